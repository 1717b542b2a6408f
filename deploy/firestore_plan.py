"""Firestore steps generated from `firestore.indexes.json`, never copied by hand.

The file is the one the emulator tests and the Firebase CLI read; turning it
into gcloud commands here keeps production's indexes, TTL policies and index
exemptions equal to it. A shape this code does not know is an error, not a
silently dropped index.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deploy.steps import Step
from functions.config import REPO_ROOT

INDEXES_FILE = REPO_ROOT / "firestore.indexes.json"

_ORDERS = {"ASCENDING": "ascending", "DESCENDING": "descending"}
_SCOPES = {"COLLECTION": "collection", "COLLECTION_GROUP": "collection-group"}


class IndexFileError(ValueError):
    """`firestore.indexes.json` has a shape the generator does not handle."""


def load_index_file(path: Path = INDEXES_FILE) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexFileError(f"{path}: cannot read ({exc})") from None
    if not isinstance(doc, dict):
        raise IndexFileError(f"{path}: expected a JSON object")
    return doc


def _field_config(field: dict[str, Any], where: str) -> str:
    path = field.get("fieldPath")
    if not isinstance(path, str) or not path:
        raise IndexFileError(f"{where}: a field without fieldPath")
    if field.get("arrayConfig") == "CONTAINS":
        return f"field-path={path},array-config=contains"
    order = _ORDERS.get(str(field.get("order")))
    if order is None:
        raise IndexFileError(f"{where}: field {path!r} needs order ASCENDING/DESCENDING")
    return f"field-path={path},order={order}"


def composite_index_steps(doc: dict[str, Any], project: str, database: str) -> list[Step]:
    steps = []
    for n, index in enumerate(doc.get("indexes", []), start=1):
        where = f"firestore.indexes.json indexes[{n - 1}]"
        group = index.get("collectionGroup")
        scope = _SCOPES.get(str(index.get("queryScope", "COLLECTION")))
        if not isinstance(group, str) or scope is None:
            raise IndexFileError(f"{where}: needs collectionGroup and a known queryScope")
        fields = [_field_config(f, where) for f in index.get("fields", [])]
        if len(fields) < 2:
            raise IndexFileError(f"{where}: a composite index has at least two fields")
        argv = [
            "gcloud",
            "firestore",
            "indexes",
            "composite",
            "create",
            f"--project={project}",
            f"--database={database}",
            f"--collection-group={group}",
            f"--query-scope={scope}",
        ]
        argv += [f"--field-config={f}" for f in fields]
        described = ", ".join(f.split(",")[0].removeprefix("field-path=") for f in fields)
        steps.append(
            Step(
                section="firestore",
                purpose=f"Composite index on {group} ({described})",
                argv=tuple(argv),
                exists_ok=True,
            )
        )
    return steps


def field_override_steps(doc: dict[str, Any], project: str, database: str) -> list[Step]:
    """TTL policies and single-field index exemptions (`--async`: they apply in the background)."""
    steps = []
    for n, override in enumerate(doc.get("fieldOverrides", []), start=1):
        where = f"firestore.indexes.json fieldOverrides[{n - 1}]"
        group, path = override.get("collectionGroup"), override.get("fieldPath")
        if not isinstance(group, str) or not isinstance(path, str):
            raise IndexFileError(f"{where}: needs collectionGroup and fieldPath")
        common = (f"--project={project}", f"--database={database}", f"--collection-group={group}")
        if override.get("ttl") is True:
            steps.append(
                Step(
                    section="firestore",
                    purpose=f"TTL policy: {group} documents are deleted after their {path}",
                    argv=(
                        *("gcloud", "firestore", "fields", "ttls", "update", path),
                        *common,
                        "--enable-ttl",
                        "--async",
                    ),
                )
            )
        indexes = override.get("indexes")
        if indexes == []:
            steps.append(
                Step(
                    section="firestore",
                    purpose=f"No single-field indexes on {group}.{path} (never queried)",
                    argv=(
                        *("gcloud", "firestore", "indexes", "fields", "update", path),
                        *common,
                        "--disable-indexes",
                        "--async",
                    ),
                )
            )
        elif indexes is not None:
            raise IndexFileError(f"{where}: only an empty index list (an exemption) is supported")
        if override.get("ttl") not in (None, True, False):
            raise IndexFileError(f"{where}: ttl must be true or false")
    return steps


def firestore_steps(
    project: str, location: str, database: str, path: Path = INDEXES_FILE
) -> list[Step]:
    doc = load_index_file(path)
    database_step = Step(
        section="firestore",
        purpose=f"Firestore database {database} in Native mode ({location})",
        probe=(
            "gcloud",
            "firestore",
            "databases",
            "describe",
            f"--project={project}",
            f"--database={database}",
        ),
        argv=(
            "gcloud",
            "firestore",
            "databases",
            "create",
            f"--project={project}",
            f"--database={database}",
            f"--location={location}",
            "--type=firestore-native",
        ),
        hint="A database's location cannot change; an existing one in another mode must be "
        "replaced by hand (a new FIRESTORE_DATABASE id avoids that).",
    )
    return [
        database_step,
        *composite_index_steps(doc, project, database),
        *field_override_steps(doc, project, database),
    ]
