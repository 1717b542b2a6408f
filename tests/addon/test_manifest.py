"""manifest/deployment.json and `python main.py manifest`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from addon import scopes
from addon.manifest import DEFAULT_LOGO, TEMPLATE, ManifestError, filled_manifest
from functions.cli import EXIT_USAGE, main

URL = "https://us-central1-prep-prod.cloudfunctions.net/addon"


def test_the_template_declares_a_calendar_http_add_on() -> None:
    doc = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    assert doc["oauthScopes"] == list(scopes.MANIFEST_SCOPES)
    add_ons = doc["addOns"]
    assert set(add_ons) == {"common", "calendar", "httpOptions"}  # no Gmail trigger: unused
    assert add_ons["common"]["name"] == "Meeting prep"
    assert add_ons["common"]["useLocaleFromApp"] is True
    cal = add_ons["calendar"]
    assert cal["currentEventAccess"] == "READ"
    assert (
        cal["homepageTrigger"]["runFunction"]
        == cal["eventOpenTrigger"]["runFunction"]
        == "${ADDON_URL}"
    )
    assert add_ons["httpOptions"]["authorizationHeader"] == "SYSTEM_ID_TOKEN"
    # READ access needs the current-event read scope; the write scopes in the manifest are
    # only requested when the user opts into "Block 30 min to prepare".
    assert scopes.CURRENT_EVENT_READ in doc["oauthScopes"]
    assert not any(
        s.endswith(("calendar", "calendar.events", ".write")) for s in doc["oauthScopes"]
    )


def test_filling_in_the_url() -> None:
    doc = filled_manifest(URL)
    cal = doc["addOns"]["calendar"]
    assert cal["homepageTrigger"]["runFunction"] == URL
    assert cal["eventOpenTrigger"]["runFunction"] == URL
    assert doc["addOns"]["common"]["logoUrl"] == DEFAULT_LOGO
    assert "${" not in json.dumps(doc)


@pytest.mark.parametrize(
    "bad",
    [
        "http://example.com/addon",
        "ftp://x/y",
        "https://",
        "https://x/a b",
        "https://x/#frag",
        "addon",
    ],
)
def test_bad_urls_are_refused(bad: str) -> None:
    with pytest.raises(ManifestError):
        filled_manifest(bad)


def test_a_url_cannot_change_the_documents_structure() -> None:
    sneaky = 'https://x.example/a","enabled":false,"x":"'
    doc = filled_manifest(sneaky)
    assert doc["addOns"]["calendar"]["homepageTrigger"] == {"runFunction": sneaky, "enabled": True}


def test_a_broken_template_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "deployment.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ManifestError, match="cannot read"):
        filled_manifest(URL, template=broken)


def test_cli_prints_or_writes_the_filled_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["manifest", "--url", URL]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["addOns"]["calendar"]["eventOpenTrigger"]["runFunction"] == URL
    out = tmp_path / "deployment.json"
    assert (
        main(["manifest", "--url", URL, "--logo-url", "https://x.example/l.png", "--out", str(out)])
        == 0
    )
    assert json.loads(out.read_text())["addOns"]["common"]["logoUrl"] == "https://x.example/l.png"


def test_cli_refuses_a_bad_url_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "--url", "http://insecure.example/addon"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "must be an https:// URL" in err
