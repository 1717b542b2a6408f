"""Issue 17 in headless Chromium: the local pages a newcomer opens, as they see them.

One real `main.py serve` (tests/browser/conftest.py) with the sample week: its
start-up sweep sends the reminders that are already due, so the outbox holds
real emails and the task queue real tasks. Each page is checked in the browser
and a screenshot of it is kept as a test artifact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.cdp import Page, chromium_page
from tests.browser.conftest import ROOT

pytestmark = pytest.mark.browser


#: Chromium runs sandboxed frames in a process of their own, where this page's DevTools
#: session cannot read them; this keeps them in the page's process so the test can. The
#: sandbox itself (opaque origin, no scripts) is unchanged, and checked below.
SAME_PROCESS_FRAMES = ("--disable-features=IsolateSandboxedIframes",)


@pytest.fixture(scope="module")
def page(chromium: str, server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    profile = tmp_path_factory.mktemp("profile")
    with chromium_page(chromium, profile, flags=SAME_PROCESS_FRAMES) as opened:
        yield opened


def _open(page: Page, url: str) -> None:
    page.navigate(url)
    page.wait_for(
        f"location.href.startsWith({json.dumps(url)}) && document.readyState === 'complete'",
        what=url,
    )


def _texts_in_frames(node: dict[str, Any], inside: bool = False) -> Iterator[str]:
    """Text of every node inside an iframe's document (DOM.getDocument with pierce)."""
    if inside and node.get("nodeType") == 3:
        yield str(node.get("nodeValue", ""))
    for child in node.get("children", []):
        yield from _texts_in_frames(child, inside)
    if "contentDocument" in node:
        yield from _texts_in_frames(node["contentDocument"], True)


def _tags_in_frames(node: dict[str, Any], inside: bool = False) -> Iterator[str]:
    if inside and node.get("nodeType") == 1:
        yield str(node.get("nodeName", ""))
    for child in node.get("children", []):
        yield from _tags_in_frames(child, inside)
    if "contentDocument" in node:
        yield from _tags_in_frames(node["contentDocument"], True)


def test_the_front_page(page: Page, server: str, artifacts: Path) -> None:
    _open(page, f"{server}/")
    text = str(page.evaluate("document.body.innerText"))
    assert "Meeting prep, running locally" in text and "Next meetings" in text
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    page.screenshot(artifacts / "local-front-page.png", full_page=True)


def test_the_tasks_page_is_readable(page: Page, server: str, artifacts: Path) -> None:
    _open(page, f"{server}/dev/tasks")
    rows = page.evaluate(
        "[...document.querySelectorAll('tr')].slice(1).map(r => [...r.cells].map(c => c.innerText))"
    )
    assert rows, "no tasks listed"
    kinds = {row[1] for row in rows}
    assert "Prep reminder" in kinds
    titles = {row[0] for row in rows}
    assert "Acme Corp QBR" in titles or "Weekly staff meeting" in titles
    # Times in the user's zone (the sample week is New York's), with its abbreviation.
    assert all(row[2].endswith((" EST", " EDT")) for row in rows), rows
    assert {row[3] for row in rows} <= {"scheduled", "due", "retrying", "succeeded", "gave up"}
    with urllib.request.urlopen(f"{server}/dev/tasks?format=json", timeout=5) as resp:  # noqa: S310
        assert set(json.loads(resp.read())) == {"pending", "attempts", "finished"}
    page.screenshot(artifacts / "local-tasks.png", full_page=True)


def test_the_outbox_shows_an_email_as_it_would_look(
    page: Page, server: str, artifacts: Path
) -> None:
    _open(page, f"{server}/dev/outbox")
    for _ in range(30):  # the start-up sweep sends the reminders already due
        if page.evaluate("document.querySelectorAll('iframe.mail').length"):
            break
        page.evaluate("new Promise(r => setTimeout(r, 500))")
        _open(page, f"{server}/dev/outbox")
    frame = page.evaluate(
        "(() => { const f = document.querySelector('iframe.mail');"
        " return f && {sandbox: f.getAttribute('sandbox'), height: f.clientHeight,"
        " readable: (() => { try { return !!f.contentDocument; } catch (e) { return false; } })()};"
        " })()"
    )
    assert frame is not None, page.evaluate("document.body.innerText")
    # Sandboxed: no scripts, an opaque origin this page's scripts cannot reach into.
    assert "allow-scripts" not in frame["sandbox"] and "allow-same-origin" not in frame["sandbox"]
    assert frame["readable"] is False and frame["height"] > 100
    document = page.call("DOM.getDocument", depth=-1, pierce=True)["root"]
    shown = " ".join(_texts_in_frames(document))
    assert "Generate prep" in shown and "Open in Calendar" in shown, shown[:500]
    tags = set(_tags_in_frames(document))
    assert "B" in tags and "A" in tags  # drawn as HTML, not shown as source
    assert "SCRIPT" not in tags and "IMG" not in tags
    page.screenshot(artifacts / "local-outbox.png", full_page=True)


def test_the_event_card_draws_icons_and_says_who_is_coming(
    page: Page, server: str, artifacts: Path
) -> None:
    _open(page, f"{server}/preview")
    page.wait_for(
        "document.body && document.body.dataset.ready === 'true' "
        "&& document.body.dataset.busy === 'false' "
        "&& document.querySelector('#card-host form.card') !== null",
        what="the first card",
    )
    card = page.evaluate(
        "(() => { const h = document.getElementById('card-host');"
        " return {glyphs: h.querySelectorAll('.glyph').length,"
        " icons: [...h.querySelectorAll('svg.card-icon')].map(s => s.dataset.icon),"
        " widths: [...h.querySelectorAll('svg.card-icon')]"
        ".map(s => s.getBoundingClientRect().width),"
        " headers: h.querySelectorAll('.card-header').length,"
        " bar: document.querySelector('.addon-name').innerText,"
        " text: h.innerText}; })()"
    )
    assert card["glyphs"] == 0  # no letter circles
    assert "INVITE" in card["icons"] and "MULTIPLE_PEOPLE" in card["icons"]
    assert min(card["widths"]) >= 16  # drawn at icon size, not squeezed to a dot
    # Calendar's bar names the add-on; the card repeats neither it nor a header of its own.
    assert card["bar"] == "Meeting prep" and card["headers"] == 0
    assert "Meeting prep" not in card["text"].split("\n")[0]
    assert "Guests" in card["text"] and "Wrong type" not in card["text"]
    page.screenshot(artifacts / "local-event-card.png")


def test_dev_event_finds_the_running_server(server: str, server_home: Path) -> None:
    recorded = json.loads((server_home / "server.json").read_text(encoding="utf-8"))
    assert recorded["url"] == server
    env = {
        **os.environ,
        "PREP_SQLITE_PATH": str(server_home / "prep.db"),
        "PREP_DEV_KEY_PATH": str(server_home / "dev-key.pem"),
        "PREP_TOKEN_KEK_PATH": str(server_home / "token-kek"),
        "PREP_OUTBOX_PATH": str(server_home / "outbox.db"),
    }
    for name in ("PREP_MODE", "PREP_PUBLIC_URL", "PREP_ADDON_AUDIENCE"):
        env.pop(name, None)
    printed = subprocess.run(
        [sys.executable, "main.py", "dev-event"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert f"signed for the running server at {server}" in printed.stderr
    request = urllib.request.Request(  # noqa: S310 - the local test server
        f"{server}/addon",
        data=printed.stdout.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
        answer = json.loads(resp.read())
    assert answer["action"]["navigations"][0]["pushCard"]["name"] == "event"
