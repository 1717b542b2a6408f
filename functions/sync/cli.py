"""`python main.py sync-local [--ics PATH]`: import an .ics through the production sync path."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from functions.config import Settings
    from functions.sync.deps import SyncDeps

    #: Builds the composition root for settings (`functions.cli` hands in `Bootstrap`).
    RootFor = Callable[[Settings], SyncDeps]

EXIT_USAGE = 2


def add_sync_commands(sub: Any) -> None:
    parser = sub.add_parser(
        "sync-local",
        help="import an .ics calendar for the local user (default: the one last imported, "
        "else PREP_ICS_PATH); it stays in force across restarts",
    )
    parser.add_argument("--ics", type=Path, help="an .ics file, e.g. an export of your calendar")


def _sync_local(args: argparse.Namespace, root_for: RootFor) -> int:
    from functions.calendar.ics import IcsFileError
    from functions.config import load_settings
    from functions.logs import configure
    from functions.sync.local import sync_local

    settings = load_settings()
    configure(settings.log_level)
    if not settings.is_local:
        print("main.py sync-local: error: runs on the embedded default only", file=sys.stderr)
        return EXIT_USAGE
    services = root_for(settings)
    try:
        report = sync_local(services, args.ics, create_prep_tasks=False)
    except IcsFileError as exc:
        print(f"main.py sync-local: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        services.store.close()
    print(
        f"Imported {report.ics_path} for {report.owner} ({report.owner_source}; "
        f"{report.owner_override}), time zone {report.time_zone} ({report.time_zone_source}), "
        f"{report.skipped} skipped. A running server picks this import up by itself.",
        file=sys.stderr,
    )
    print(json.dumps(report.as_dict()))
    return 0


SYNC_COMMANDS: dict[str, Callable[[argparse.Namespace, RootFor], int]] = {"sync-local": _sync_local}
