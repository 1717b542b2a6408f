"""Materials settings: local and production defaults, validation naming the variable, wiring."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from functions.config import Mode, SettingsError, load_settings
from functions.materials.gcs import GcsMaterialsStorage, IamSigning
from functions.materials.local_files import LocalMaterialsStorage
from functions.materials.offline import OfflineGenerator
from functions.materials.settings import (
    DEFAULT_SIGNING_KEY,
    MaterialsSettingsError,
    load_materials_settings,
)
from functions.materials.vertex import VertexGenerator
from functions.materials.wiring import build_generator, build_materials_storage
from functions.services import Services
from tests.materials.conftest import local_settings


def test_local_defaults_are_offline_and_on_disk() -> None:
    m = load_materials_settings({}, production=False, project=None)
    assert (m.generator, m.storage, m.link_hours) == ("offline", "local", 24)
    assert m.signing_key_path == DEFAULT_SIGNING_KEY


def test_production_defaults_are_vertex_cloud_storage_and_iam_signing() -> None:
    m = load_materials_settings({"PREP_MATERIALS_BUCKET": "b"}, production=True, project="p")
    assert (m.generator, m.storage, m.bucket) == ("vertex", "gcs", "b")
    assert m.signing_key_path is None  # IAM signBlob
    assert (m.vertex_model, m.vertex_location) == ("gemini-2.5-flash", "us-central1")


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
    storage = build_materials_storage(local, Services(local).clock)
    assert isinstance(storage, LocalMaterialsStorage)
    assert (tmp_path / "materials-key.json").stat().st_mode & 0o077 == 0  # created 0600

    vertex = dataclasses.replace(
        local,
        project="p",
        materials=dataclasses.replace(local.materials, generator="vertex", vertex_model="m"),
    )
    built = build_generator(vertex)
    assert isinstance(built, VertexGenerator) and built.generator_id == "vertex:m"
    assert built.prices.output_per_million == 2.50

    prod = dataclasses.replace(
        local,
        mode=Mode.PRODUCTION,
        materials=dataclasses.replace(
            local.materials, storage="gcs", bucket="b", signing_key_path=None
        ),
    )
    gcs = build_materials_storage(prod, Services(prod).clock)
    assert isinstance(gcs, GcsMaterialsStorage) and isinstance(gcs.signing, IamSigning)
    no_bucket = dataclasses.replace(
        prod, materials=dataclasses.replace(prod.materials, bucket=None)
    )
    with pytest.raises(MaterialsSettingsError, match="PREP_MATERIALS_BUCKET"):
        build_materials_storage(no_bucket, Services(no_bucket).clock)
    local_in_prod = dataclasses.replace(prod, materials=local.materials)
    with pytest.raises(RuntimeError, match="only in local mode"):
        build_materials_storage(local_in_prod, Services(local_in_prod).clock)


def test_the_generation_lease_follows_the_settings_that_bound_an_attempt() -> None:
    """The lease outlasts one attempt's model calls, whatever the timeouts are set to."""
    from datetime import timedelta

    from functions.materials import vertex
    from functions.materials.lease import (
        MODEL_CALLS_PER_ATTEMPT,
        attempt_budget,
        generation_lease,
    )
    from functions.materials.settings import MaterialsSettings

    assert MODEL_CALLS_PER_ATTEMPT == vertex.SCHEMA_ATTEMPTS
    for timeout, attempts in ((60.0, 3), (1.0, 1), (600.0, 10)):
        m = MaterialsSettings(vertex_timeout_seconds=timeout, vertex_attempts=attempts)
        worst = timedelta(seconds=vertex.SCHEMA_ATTEMPTS * attempts * timeout)
        assert attempt_budget(m) == worst
        assert generation_lease(m) > worst
