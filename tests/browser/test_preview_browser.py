"""The card preview in headless Chromium: real server, real endpoint, real clicks.

Runs `python main.py serve` (the README's command) on a free port with its
own database and key, opens /preview, adds the sample meetings, and clicks
"Generate prep"; the sidebar must turn to "Preparing…". A screenshot of the
result is saved to test-artifacts/addon-preview.png.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.cdp import Page, chromium_page, find_chromium

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip(
            "Debian's chromium is not installed and could not be: run "
            "tests/browser/ensure_chromium.sh as root (make test does)"
        )
    return binary


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("preview-server")
    port = _free_port()
    env = {
        **os.environ,
        "PREP_SQLITE_PATH": str(home / "prep.db"),
        "PREP_DEV_KEY_PATH": str(home / "dev-key.pem"),
        "PREP_TOKEN_KEK_PATH": str(home / "token-kek"),
    }
    for name in ("PREP_MODE", "PREP_PUBLIC_URL", "PREP_ADDON_AUDIENCE"):
        env.pop(name, None)
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "main.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as resp:  # noqa: S310
                    assert json.loads(resp.read()) == {"status": "ok"}
                    break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "the local server did not start:\n" + (home / "server.log").read_text()
                    ) from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _card_text(page: Page) -> str:
    return str(page.evaluate("document.getElementById('card-host').innerText"))


def _open(page: Page, event_id: str, title: str) -> None:
    page.evaluate(
        "(() => { const p = document.getElementById('meeting-picker');"
        f" p.value = {json.dumps(event_id)};"
        " p.dispatchEvent(new Event('change')); })()"
    )
    page.wait_for(
        f"document.getElementById('card-host').innerText.includes({json.dumps(title)})",
        what=f"the card of {title!r}",
    )


def test_the_preview_opens_on_the_next_meeting_that_needs_prep(
    chromium: str, server: str, tmp_path: Path
) -> None:
    """Issue 17: with nothing chosen the page opens the server's pick, never a declined one
    (the sample week has one: "Design review: billing page")."""
    with urllib.request.urlopen(f"{server}/preview/meetings", timeout=5) as resp:  # noqa: S310
        listed = json.loads(resp.read())
    pick = listed["next"]
    assert pick is not None and "design-review" not in pick
    title = next(m["title"] for m in listed["meetings"] if m["eventId"] == pick)
    with chromium_page(chromium, tmp_path / "profile") as page:
        page.navigate(f"{server}/preview")
        page.wait_for(
            "document.body && document.body.dataset.ready === 'true' "
            "&& document.body.dataset.busy === 'false'",
            what="the page",
        )
        assert page.evaluate("document.getElementById('meeting-picker').value") == pick
        page.wait_for(
            f"document.getElementById('card-host').innerText.includes({json.dumps(title)})",
            what=f"the card of {title!r}",
        )


def test_generate_prep_in_the_preview_turns_the_card_to_preparing(
    chromium: str, server: str, tmp_path: Path
) -> None:
    with chromium_page(chromium, tmp_path / "profile") as page:
        page.navigate(f"{server}/preview")
        idle = "document.body.dataset.busy === 'false'"
        page.wait_for(
            f"document.body && document.body.dataset.ready === 'true' && {idle}", what="the page"
        )

        page.evaluate("document.getElementById('add-samples').click()")
        page.wait_for(
            "[...document.querySelectorAll('#meeting-picker option')]"
            ".some(o => o.value === 'sample-qbr')",
            what="the sample meetings in the picker",
        )

        # A hostile title is shown as text: no element is made from it.
        _open(page, "sample-hostile", "<script>alert('hi')</script> <b>Roadmap</b> & planning")
        assert (
            page.evaluate("document.querySelectorAll('#card-host script, #card-host b').length")
            == 0
        )

        _open(page, "sample-qbr", "Acme QBR")
        assert "Quarterly business review" in _card_text(page)
        clicked = page.evaluate(
            "(() => { const b = [...document.querySelectorAll('#card-host button')]"
            ".find(b => b.textContent === 'Generate prep'); if (b) b.click(); return !!b; })()"
        )
        assert clicked, _card_text(page)
        page.wait_for(
            "document.getElementById('card-host').innerText.includes('Preparing…')",
            what="the card to show Preparing…",
        )
        card = _card_text(page)
        assert "Generate prep" not in card
        toast = page.evaluate("document.getElementById('toast').innerText")
        assert "Preparing…" in toast
        page.wait_for(idle, what="the page to settle")
        page.screenshot(ARTIFACTS / "addon-preview.png")
    assert (ARTIFACTS / "addon-preview.png").stat().st_size > 10_000
