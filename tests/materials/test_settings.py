"""Materials settings: local and production defaults, validation naming the variable, wiring."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from functions.bootstrap import Bootstrap, build_generator, build_materials_storage
from functions.config import Mode, SettingsError, load_settings
from functions.materials.gcs import GcsMaterialsStorage, IamSigning
from functions.materials.local_files import LocalMaterialsStorage
from functions.materials.offline import OfflineGenerator
from functions.materials.settings import (
    DEFAULT_SIGNING_KEY,
    MaterialsSettings,
    MaterialsSettingsError,
    load_materials_settings,
    model_warnings,
)
from functions.materials.vertex import VertexGenerator
from tests.materials.conftest import local_settings


def test_local_defaults_are_offline_and_on_disk() -> None:
    m = load_materials_settings({}, production=False, project=None)
    assert (m.generator, m.storage, m.link_hours) == ("offline", "local", 24)
    assert m.signing_key_path == DEFAULT_SIGNING_KEY


def test_production_defaults_are_vertex_cloud_storage_and_iam_signing() -> None:
    m = load_materials_settings({"PREP_MATERIALS_BUCKET": "b"}, production=True, project="p")
    assert (m.generator, m.storage, m.bucket) == ("vertex", "gcs", "b")
    assert m.signing_key_path is None  # IAM signBlob
    # A current GA Flash model, at the location that serves it (finding 1 of issue 12).
    assert (m.vertex_model, m.vertex_location) == ("gemini-3.8-flash", "global")
    assert (m.vertex_thinking_level, m.vertex_max_output_tokens) == ("low", 8192)
    assert (m.price_input_per_million, m.price_output_per_million) == (1.50, 7.50)
    assert model_warnings(m) == []


@pytest.mark.parametrize(
    ("env", "production", "project", "names"),
    [
        ({"PREP_MATERIALS_LINK_HOURS": "169"}, False, None, "PREP_MATERIALS_LINK_HOURS"),
        ({"PREP_MATERIALS_LINK_HOURS": "0"}, False, None, "PREP_MATERIALS_LINK_HOURS"),
        ({"PREP_MATERIALS_LINK_HOURS": "1.5"}, False, None, "PREP_MATERIALS_LINK_HOURS"),
        ({"PREP_GENERATOR": "gpt"}, False, None, "PREP_GENERATOR"),
        ({"PREP_GENERATOR": "vertex"}, False, None, "GOOGLE_CLOUD_PROJECT"),
        ({"PREP_MATERIALS_STORAGE": "local"}, True, "p", "PREP_MATERIALS_STORAGE=local"),
        ({"PREP_VERTEX_TIMEOUT_SECONDS": "soon"}, False, None, "PREP_VERTEX_TIMEOUT_SECONDS"),
        ({"PREP_VERTEX_BASE_URL": "http://vertex.example"}, False, None, "PREP_VERTEX_BASE_URL"),
        ({"PREP_DAILY_GENERATIONS": "0"}, False, None, "PREP_DAILY_GENERATIONS"),
        ({"PREP_VERTEX_THINKING_LEVEL": "minimal"}, False, None, "PREP_VERTEX_THINKING_LEVEL"),
        ({"PREP_VERTEX_MAX_OUTPUT_TOKENS": "70000"}, False, None, "PREP_VERTEX_MAX_OUTPUT_TOKENS"),
        # One generation would outlast the generate task's dispatch deadline (finding 4).
        ({"PREP_VERTEX_TIMEOUT_SECONDS": "120"}, True, "p", "PREP_VERTEX_TIMEOUT_SECONDS=120"),
        ({"PREP_VERTEX_ATTEMPTS": "3"}, True, "p", "PREP_VERTEX_ATTEMPTS=3"),
    ],
)
def test_bad_values_name_the_variable(
    env: dict[str, str], production: bool, project: str | None, names: str
) -> None:
    with pytest.raises(MaterialsSettingsError, match=names):
        load_materials_settings(env, production=production, project=project)


def test_errors_surface_as_settings_errors_at_start() -> None:
    with pytest.raises(SettingsError, match="PREP_MATERIALS_LINK_HOURS"):
        load_settings({"PREP_MATERIALS_LINK_HOURS": "200"})
    assert load_settings({"PREP_MATERIALS_LINK_HOURS": "168"}).materials.link_hours == 168


def test_wiring_follows_the_settings(tmp_path: Path) -> None:
    local = local_settings(tmp_path)
    assert isinstance(build_generator(local), OfflineGenerator)
    storage = build_materials_storage(local, Bootstrap(local).clock)
    assert isinstance(storage, LocalMaterialsStorage)
    assert (tmp_path / "materials-key.json").stat().st_mode & 0o077 == 0  # created 0600

    vertex = dataclasses.replace(
        local,
        project="p",
        materials=dataclasses.replace(local.materials, generator="vertex", vertex_model="m"),
    )
    built = build_generator(vertex)
    assert isinstance(built, VertexGenerator) and built.generator_id == "vertex:m"
    assert built.prices.output_per_million == 7.50
    assert (built.thinking_level, built.max_output_tokens) == ("LOW", 8192)
    assert built.temperature is None

    prod = dataclasses.replace(
        local,
        mode=Mode.PRODUCTION,
        materials=dataclasses.replace(
            local.materials, storage="gcs", bucket="b", signing_key_path=None
        ),
    )
    gcs = build_materials_storage(prod, Bootstrap(prod).clock)
    assert isinstance(gcs, GcsMaterialsStorage) and isinstance(gcs.signing, IamSigning)
    no_bucket = dataclasses.replace(
        prod, materials=dataclasses.replace(prod.materials, bucket=None)
    )
    with pytest.raises(MaterialsSettingsError, match="PREP_MATERIALS_BUCKET"):
        build_materials_storage(no_bucket, Bootstrap(no_bucket).clock)
    local_in_prod = dataclasses.replace(prod, materials=local.materials)
    with pytest.raises(RuntimeError, match="only in local mode"):
        build_materials_storage(local_in_prod, Bootstrap(local_in_prod).clock)


@pytest.mark.parametrize(
    ("model", "location", "warned"),
    [
        ("gemini-2.5-flash", "us-central1", "retired"),
        ("gemini-2.5-flash-lite", "global", "retired"),
        ("gemini-2.0-flash-001", "global", "retired"),
        ("gemini-1.5-pro-002", "global", "retired"),
        ("gemini-pro", "global", "retired"),
        ("gemini-3.8-flash", "us-central1", "served only from global, us or eu"),
        ("gemini-3.8-flash", "eu", None),
        ("gemini-3.5-flash", "europe-west4", None),
        ("gemini-3.1-pro-preview", "global", None),
    ],
)
def test_check_config_warnings_name_a_retired_model_or_a_wrong_location(
    model: str, location: str, warned: str | None
) -> None:
    m = MaterialsSettings(generator="vertex", vertex_model=model, vertex_location=location)
    warnings = model_warnings(m)
    if warned is None:
        assert warnings == []
    else:
        (warning,) = warnings
        assert warned in warning and warning.startswith("PREP_VERTEX_")
    assert model_warnings(dataclasses.replace(m, generator="offline")) == []


def test_the_generation_lease_follows_the_settings_that_bound_an_attempt() -> None:
    """The lease outlasts one attempt's model calls, whatever the timeouts are set to."""
    from datetime import timedelta

    from functions.materials.lease import attempt_budget, generation_lease
    from functions.materials.settings import SCHEMA_ATTEMPTS, MaterialsSettings

    for timeout, attempts in ((60.0, 3), (1.0, 1), (600.0, 10)):
        m = MaterialsSettings(vertex_timeout_seconds=timeout, vertex_attempts=attempts)
        # Never less than every model call of every schema attempt at its full timeout.
        floor = timedelta(seconds=SCHEMA_ATTEMPTS * attempts * timeout)
        assert attempt_budget(m) >= floor
        assert generation_lease(m) > attempt_budget(m)
