"""Deployment inputs: every problem is found before any command runs, each naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.inputs import (
    DNS_LABEL,
    KEYS,
    LONGEST_FUNCTION_SUFFIX,
    InputError,
    load_inputs,
    parse_env_file,
)
from functions.cli import main
from tests.deploy.conftest import write_env_file
from tests.support.environments import INPUTS

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "deploy.env.example"


def test_defaults_fill_the_optional_values() -> None:
    i = load_inputs(INPUTS)
    assert (i.region, i.firestore_location, i.name_prefix) == (
        "us-central1",
        "us-central1",
        "meeting-prep",
    )
    assert (i.sync_interval_minutes, i.materials_retention_days, i.runtime) == (
        15,
        180,
        "python311",
    )
    assert load_inputs({**INPUTS, "REGION": "europe-west1"}).firestore_location == "europe-west1"


def test_the_example_file_is_complete_and_valid() -> None:
    values = parse_env_file(EXAMPLE)
    assert set(values) == set(KEYS)
    load_inputs(values)


def test_every_missing_required_value_is_reported_at_once() -> None:
    with pytest.raises(InputError) as info:
        load_inputs({})
    named = {p.split()[0] for p in info.value.problems}
    assert named == {
        "PROJECT_ID",
        "PROJECT_NUMBER",
        "BUCKET",
        "ADDON_OAUTH_CLIENT_ID",
        "OAUTH_WEB_CLIENT_ID",
    }


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("PROJECT_ID", "Acme Prep", "project id"),
        ("PROJECT_ID", "acme", "6-30"),
        ("PROJECT_ID", "acme-prep-", "not ending with a hyphen"),
        ("PROJECT_ID", "example.com:acme", "project id"),
        ("PROJECT_NUMBER", "12ab", "numeric"),
        ("REGION", "us central", "region like us-central1"),
        ("REGION", "US-CENTRAL1", "region like us-central1"),
        ("FIRESTORE_LOCATION", "moon", "multi-region"),
        ("BUCKET", "ab", "3-63"),
        ("BUCKET", "Acme_Materials", "lowercase"),
        ("BUCKET", "-acme", "start and end"),
        ("BUCKET", "acme.example.com", "dots"),
        ("BUCKET", "goog-materials", "goog"),
        ("BUCKET", "my-google-bucket", "google"),
        ("BUCKET", "x" * 64, "3-63"),
        ("NAME_PREFIX", "Prep", "lowercase"),
        ("ADDON_OAUTH_CLIENT_ID", "has space", "get-authorization"),
        ("OAUTH_WEB_CLIENT_ID", "1234-abc.example.com", "apps.googleusercontent.com"),
        ("ADDON_LOGO_URL", "http://example.com/logo.png", "https://"),
        ("OAUTH_SCOPES", "calendar", "not a Google OAuth scope"),
        ("SYNC_INTERVAL_MINUTES", "7", "divide an hour"),
        ("SYNC_INTERVAL_MINUTES", "90", "divide an hour"),
        ("SYNC_INTERVAL_MINUTES", "0", "between 1 and 1440"),
        ("MATERIALS_RETENTION_DAYS", "forever", "whole number"),
        ("GENERATION_MAX_RETRIES", "51", "between 1 and 50"),
        ("RUNTIME", "python39", "python311"),
        ("INSTALL_ADDON_FOR_ME", "maybe", "yes or no"),
        ("VERTEX_MODEL", "gemini-2.5-flash", "retired"),
        ("VERTEX_MODEL", "gemini-2.0-flash-001", "retired"),
        ("VERTEX_LOCATION", "moon", "multi-region"),
    ],
)
def test_a_malformed_value_is_named_with_the_reason(key: str, value: str, why: str) -> None:
    with pytest.raises(InputError) as info:
        load_inputs({**INPUTS, key: value})
    (problem,) = info.value.problems
    assert problem.startswith(f"{key}=")
    assert why in problem


def test_valid_intervals_are_those_a_cron_and_the_slot_arithmetic_agree_on() -> None:
    for minutes in ("1", "5", "15", "30", "60", "120", "720", "1440"):
        assert load_inputs({**INPUTS, "SYNC_INTERVAL_MINUTES": minutes})


def test_the_longest_names_still_get_a_stable_url() -> None:
    """The deterministic run.app URL needs SERVICE-PROJECT_NUMBER within one DNS label."""
    i = load_inputs({**INPUTS, "NAME_PREFIX": "a" * 20, "PROJECT_NUMBER": "9" * 20})
    label = f"{i.name_prefix}{LONGEST_FUNCTION_SUFFIX}-{i.project_number}"
    assert len(label) <= DNS_LABEL
    with pytest.raises(InputError, match="NAME_PREFIX"):
        load_inputs({**INPUTS, "NAME_PREFIX": "a" * 21})


def test_env_file_syntax(tmp_path: Path) -> None:
    path = tmp_path / "deploy.env"
    path.write_text(
        "# comment\n\nexport PROJECT_ID=acme-prep\nBUCKET='acme-prep-materials'\n"
        'REGION="europe-west1"\n',
        encoding="utf-8",
    )
    assert parse_env_file(path) == {
        "PROJECT_ID": "acme-prep",
        "BUCKET": "acme-prep-materials",
        "REGION": "europe-west1",
    }


def test_env_file_errors_give_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "deploy.env"
    path.write_text("PROJECT_ID=acme-prep\nthis is not a setting\nPROJECT_NAME=x\n")
    with pytest.raises(InputError) as info:
        parse_env_file(path)
    assert info.value.problems == [
        "deploy.env:2: expected KEY=VALUE",
        "deploy.env:3: unknown setting PROJECT_NAME",
    ]


def test_cli_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_env_file(tmp_path / "deploy.env", {**INPUTS, "BUCKET": "Bad Bucket"})
    assert main(["deploy", "--config", str(config), "--region", "mars"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("main.py deploy: error: ")
    assert "BUCKET='Bad Bucket'" in err
    assert "REGION='mars'" in err


def test_cli_missing_config_file_says_how_to_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deploy", "--config", str(tmp_path / "nope.env")]) == 2
    assert "copy deploy/deploy.env.example" in capsys.readouterr().err


def test_cli_flags_override_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_env_file(tmp_path / "deploy.env")
    args = [
        "deploy",
        "--config",
        str(config),
        "--region",
        "europe-west4",
        "--set",
        "LOG_LEVEL=DEBUG",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "--region=europe-west4" in out
    assert "PREP_LOG_LEVEL=DEBUG" in out
    assert main([*args, "--set", "NOT_A_KEY=1"]) == 2
    assert "NOT_A_KEY" in capsys.readouterr().err


def test_the_model_defaults_to_a_current_flash_at_a_location_that_serves_it() -> None:
    i = load_inputs(INPUTS)
    assert (i.vertex_model, i.vertex_location) == ("gemini-3.8-flash", "global")
    for location in ("us", "eu", "europe-west4"):
        assert load_inputs({**INPUTS, "VERTEX_LOCATION": location}).vertex_location == location
