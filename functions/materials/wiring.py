"""Which generator and which storage serve materials, decided from `Settings`.

Called by `functions.services.Services` on first use, so the shared wiring
module stays a list of one-liners and heavy clients load only when needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.materials.generator import Generator, Prices
from functions.materials.settings import MaterialsSettingsError
from functions.materials.storage import MaterialsStorage

if TYPE_CHECKING:
    from functions.config import Settings
    from functions.domain.clock import Clock


def build_generator(settings: Settings) -> Generator:
    m = settings.materials
    if m.generator == "vertex":
        from functions.materials.vertex import VertexGenerator

        if not settings.project:
            raise MaterialsSettingsError("GOOGLE_CLOUD_PROJECT is required for Vertex AI")
        return VertexGenerator(
            project=settings.project,
            location=m.vertex_location,
            model=m.vertex_model,
            timeout_seconds=m.vertex_timeout_seconds,
            attempts=m.vertex_attempts,
            thinking_level=m.vertex_thinking_level,
            max_output_tokens=m.vertex_max_output_tokens,
            prices=Prices(m.price_input_per_million, m.price_output_per_million),
            base_url=m.vertex_base_url,
        )
    from functions.materials.offline import OfflineGenerator

    return OfflineGenerator()


def build_materials_storage(settings: Settings, clock: Clock) -> MaterialsStorage:
    m = settings.materials
    if m.storage == "gcs":
        from functions.materials.gcs import (
            GcsMaterialsStorage,
            IamSigning,
            KeySigning,
            UrlSigning,
            storage_client,
        )

        if not m.bucket:
            raise MaterialsSettingsError("PREP_MATERIALS_BUCKET is required with Cloud Storage")
        signing: UrlSigning = IamSigning(m.signer_email)
        if m.signing_key_path is not None:
            if settings.is_local:  # e.g. the storage emulator: a local key is made on first use
                from functions.materials.local_files import LocalSigningKey

                LocalSigningKey.load_or_create(m.signing_key_path)
            signing = KeySigning.from_file(str(m.signing_key_path))
        project = settings.project
        return GcsMaterialsStorage(
            bucket=m.bucket, signing=signing, client_factory=lambda: storage_client(project)
        )
    if not settings.is_local:
        raise RuntimeError("local materials storage exists only in local mode")
    from functions.materials.local_files import LocalMaterialsStorage, LocalSigningKey

    key_path = m.signing_key_path or m.local_dir / "signing-key.json"
    return LocalMaterialsStorage(
        m.local_dir, LocalSigningKey.load_or_create(key_path), settings.public_url, clock
    )
