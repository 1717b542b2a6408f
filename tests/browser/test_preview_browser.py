"""The card preview in headless Chromium: real server, real endpoint, real clicks.

Runs `python main.py serve` (the README's command) on a free port with its
own database and key, opens /preview, adds the sample meetings, and clicks
"Generate prep"; the sidebar must turn to "Preparing…". A screenshot of the
result is kept in the artifacts folder (tests/browser/conftest.py).
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.browser.cdp import Page, chromium_page

pytestmark = pytest.mark.browser


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
    chromium: str, server: str, tmp_path: Path, artifacts: Path
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
        shot = page.screenshot(artifacts / "addon-preview.png")
    assert shot.stat().st_size > 10_000
