"""The README as a newcomer follows it: its local pages answer, its links lead somewhere.

The "What runs locally" table is one table (a row outside it renders as a
stray line of pipes on GitHub), each page it lists answers 200 through the
local entry point's own routing on a local root, as `make run` serves it,
and every relative link of the README names a file that exists and, with an
anchor, a heading of that file (GitHub's slugs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import flask
import pytest

from addon.dev_event import LOCAL_USER_ID
from functions.bootstrap import Bootstrap, get_services, local_routes, set_services
from functions.web import dispatch
from tests.support.factories import make_user
from tests.support.roots import make_services

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
LOCAL_URL = re.compile(r"<http://127\.0\.0\.1:8080(/[^>]*)>")


def _section(title: str) -> list[str]:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end].splitlines()


def _table_blocks(lines: list[str]) -> list[list[str]]:
    """Runs of consecutive table lines (`| ... |`)."""
    blocks: list[list[str]] = []
    run: list[str] = []
    for line in [*lines, ""]:
        if line.startswith("|"):
            run.append(line)
        elif run:
            blocks.append(run)
            run = []
    return blocks


def test_what_runs_locally_is_one_table_listing_each_page_once() -> None:
    blocks = _table_blocks(_section("What runs locally"))
    assert len(blocks) == 1, [block[0] for block in blocks]
    table = blocks[0]
    assert table[1].startswith("| ---")
    pages = [
        m.group(1) for line in table for m in [LOCAL_URL.match(line.split("|")[1].strip())] if m
    ]
    assert pages == sorted(set(pages), key=pages.index)  # no page listed twice
    assert {"/", "/preview", "/dev/outbox", "/dev/tasks"} <= set(pages)


@pytest.fixture
def local_root(tmp_path: Path) -> Iterator[Bootstrap]:
    root = make_services(tmp_path)
    root.store.put_user(make_user(user_id=LOCAL_USER_ID, time_zone="America/New_York"))
    set_services(root)
    yield root
    set_services(None)
    root.store.close()


def test_every_local_page_the_table_lists_answers(local_root: Bootstrap) -> None:
    app = flask.Flask(__name__)

    @app.route("/", defaults={"path": ""}, methods=["GET"])
    @app.route("/<path:path>", methods=["GET"])
    def any_path(path: str) -> flask.Response:
        return dispatch(local_routes(get_services()), flask.request)

    client = app.test_client()
    pages = {m.group(1) for line in _section("What runs locally") for m in LOCAL_URL.finditer(line)}
    assert pages
    for page in sorted(pages):
        resp = client.get(page, base_url="http://127.0.0.1:8080")
        assert resp.status_code == 200, page
        assert resp.mimetype == "text/html", page


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_relative_link_names_a_file_and_heading_that_exist() -> None:
    broken: list[str] = []
    for target in re.findall(r"\]\(([^)\s]+)\)", README):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = ROOT / path
        if not file.exists():
            broken.append(target)
            continue
        if anchor:
            headings = re.findall(r"^#+ (.+)$", file.read_text(encoding="utf-8"), re.MULTILINE)
            if anchor not in {_slug(h) for h in headings}:
                broken.append(target)
    assert broken == []
