"""The sidebar's command-line helpers: `dev-event` and `manifest`.

Registered into `functions.cli`'s parser; each returns an exit status and
reports bad input as one line on stderr with status 2, like the rest of the CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from addon.deps import AddonDeps
    from functions.config import Settings

EXIT_USAGE = 2

Command = Callable[[argparse.Namespace], int]
#: A command that works on the composition root, which `functions.cli` builds for it.
RootCommand = Callable[[argparse.Namespace, Callable[["Settings"], "AddonDeps"]], int]


def add_addon_commands(sub: argparse._SubParsersAction[Any]) -> None:
    dev = sub.add_parser(
        "dev-event",
        help="print a ready-to-POST eventOpen event object, signed with the local dev key",
        description=(
            "Prints the event object Workspace would POST when the sidebar opens on a meeting "
            "in the local store, with valid local tokens. Try: python main.py dev-event | "
            "curl -s -H 'Content-Type: application/json' --data @- http://127.0.0.1:8080/addon"
        ),
    )
    dev.add_argument("--event-id", help="the meeting's event id (default: the next meeting)")
    dev.add_argument("--user-id", help="whose meeting (default: the local user)")
    dev.add_argument(
        "--port",
        type=int,
        help="the port `serve` runs on, which the tokens' audience names (default: the "
        "running server's, read from server.json beside its database; else 8080)",
    )

    manifest = sub.add_parser(
        "manifest",
        help="print manifest/deployment.json filled in for one deployment",
        description=(
            "Fills the add-on URL into the deployment manifest. The URL must equal "
            "PREP_ADDON_AUDIENCE of the deployed function."
        ),
    )
    manifest.add_argument("--url", required=True, help="https URL of the deployed addon function")
    manifest.add_argument("--logo-url", help="https URL of the add-on's logo")
    manifest.add_argument("--out", help="write to this file instead of stdout")


def _fail(command: str, message: str, status: int = EXIT_USAGE) -> int:
    print(f"main.py {command}: error: {message}", file=sys.stderr)
    return status


def dev_event_command(args: argparse.Namespace, root_for: Callable[[Settings], AddonDeps]) -> int:
    from addon.dev_event import LOCAL_USER_ID, NoMeeting, dev_event
    from functions.config import load_settings
    from functions.local_address import served_url, server_file

    found = ""
    if args.port is not None:
        # As `serve` does: the audience follows the served address unless set explicitly.
        os.environ.setdefault("PREP_PUBLIC_URL", f"http://127.0.0.1:{args.port}")
    elif "PREP_PUBLIC_URL" not in os.environ:
        running = served_url(load_settings().sqlite_path)
        if running is not None:
            os.environ["PREP_PUBLIC_URL"] = running
            found = running
    settings = load_settings()
    if not settings.is_local:
        return _fail("dev-event", "signs with the local development key: unset PREP_MODE")
    services = root_for(settings)
    try:
        body = dev_event(services, event_id=args.event_id, user_id=args.user_id or LOCAL_USER_ID)
    except NoMeeting as exc:
        return _fail("dev-event", str(exc), status=1)
    finally:
        services.store.close()
    print(json.dumps(body, indent=2, ensure_ascii=False))
    if found:
        print(
            f"# signed for the running server at {found} ({server_file(settings.sqlite_path)})",
            file=sys.stderr,
        )
    elif args.port is None and "PREP_PUBLIC_URL" not in os.environ:
        print(
            f"# no running server found; the tokens name {settings.addon_audience}, and a "
            "server on another port refuses them: pass --port PORT (the port `serve` prints)",
            file=sys.stderr,
        )
    hint = "python main.py dev-event | curl -s -H 'Content-Type: application/json' --data @-"
    print(f"# to POST it: {hint} {settings.addon_audience}", file=sys.stderr)
    return 0


def manifest_command(args: argparse.Namespace) -> int:
    from addon.manifest import DEFAULT_LOGO, ManifestError, filled_manifest

    try:
        doc = filled_manifest(args.url, logo_url=args.logo_url or DEFAULT_LOGO)
    except ManifestError as exc:
        return _fail("manifest", str(exc))
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


ADDON_COMMANDS: dict[str, Command] = {"manifest": manifest_command}
ADDON_ROOT_COMMANDS: dict[str, RootCommand] = {"dev-event": dev_event_command}
