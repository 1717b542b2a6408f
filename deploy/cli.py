"""`main.py deploy`, `check-config`, `rewrap-credentials`, `delete-user` and `smoke`.

Registered into `functions.cli`'s parser like the other command groups. Bad
input (a malformed deploy.env, a missing value) exits 2 with one line on
stderr naming every problem; a failed gcloud step exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from functions.config import REPO_ROOT

if TYPE_CHECKING:
    from deploy.inputs import DeployInputs
    from functions.config import Settings

EXIT_USAGE = 2
DEFAULT_CONFIG = REPO_ROOT / "deploy" / "deploy.env"

Command = Callable[[argparse.Namespace], int]

#: Flags for the inputs an admin changes most; `--set KEY=VALUE` reaches the rest.
_FLAG_INPUTS = {
    "project": "PROJECT_ID",
    "project_number": "PROJECT_NUMBER",
    "region": "REGION",
    "bucket": "BUCKET",
    "addon_name": "ADDON_DEPLOYMENT",
    "prefix": "NAME_PREFIX",
}


def add_deploy_commands(sub: argparse._SubParsersAction[Any]) -> None:
    deploy = sub.add_parser(
        "deploy",
        help="print (default) or apply the Google Cloud and Workspace deployment",
        description=(
            "Builds the whole deployment as an ordered list of gcloud commands from "
            "deploy/deploy.env (see deploy/deploy.env.example and docs/deployment.md). "
            "--dry-run (the default) prints it; --apply runs it, stopping at the first failure."
        ),
    )
    mode = deploy.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the plan (default)")
    mode.add_argument("--apply", action="store_true", help="run the plan with gcloud")
    _config_flag(deploy)
    deploy.add_argument("--project", help="PROJECT_ID")
    deploy.add_argument("--project-number", help="PROJECT_NUMBER")
    deploy.add_argument("--region", help="REGION")
    deploy.add_argument("--bucket", help="BUCKET")
    deploy.add_argument("--addon-name", help="ADDON_DEPLOYMENT")
    deploy.add_argument("--prefix", help="NAME_PREFIX")
    deploy.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other deploy.env setting (repeatable)",
    )
    deploy.add_argument(
        "--build-dir", help="where the manifest and lifecycle files go (default .local/deploy)"
    )

    check = sub.add_parser(
        "check-config",
        help="validate this process's configuration as a deployed function would",
        description=(
            "Loads the settings from the environment and, in production mode, also requires "
            "every value the function(s) need on first use (secrets, bucket, queues)."
        ),
    )
    check.add_argument("--function", help="one entry point (default: all of them)")

    rewrap = sub.add_parser(
        "rewrap-credentials",
        help="re-seal every stored credential under the primary PREP_TOKEN_KEK key",
        description="Run after putting a new key first in PREP_TOKEN_KEK (docs/operations.md).",
    )
    _config_flag(rewrap, default_file=False)

    delete = sub.add_parser(
        "delete-user",
        help="revoke, stop push channels and delete everything stored for one user",
    )
    delete.add_argument("--user-id", required=True, help="the user's Google account id (sub)")
    delete.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    _config_flag(delete, default_file=False)

    smoke = sub.add_parser(
        "smoke",
        help="check a deployed project end to end as its operator, then clean up",
        description=(
            "Creates a test event on the operator's calendar, waits for the sync, checks the "
            "add-on endpoint, generates prep with the real model, fetches the signed URL, sends "
            "one Gmail and one Chat message, and deletes what it made (docs/deployment.md)."
        ),
    )
    smoke.add_argument(
        "--user-id", required=True, help="the operator's Google account id (sub), connected"
    )
    smoke.add_argument("--addon-url", help="the add-on endpoint (default: PREP_ADDON_AUDIENCE)")
    smoke.add_argument(
        "--wait", type=float, default=600.0, help="seconds to wait for the sync and the model"
    )
    _config_flag(smoke, default_file=False)


def _config_flag(parser: argparse.ArgumentParser, *, default_file: bool = True) -> None:
    where = "deploy/deploy.env" if default_file else "none: the current environment"
    parser.add_argument("--config", help=f"the deployment's settings file (default: {where})")


def _fail(command: str, message: str, status: int = EXIT_USAGE) -> int:
    print(f"main.py {command}: error: {message}", file=sys.stderr)
    return status


def _inputs(args: argparse.Namespace, *, flags: bool) -> DeployInputs:
    from deploy.inputs import KEYS, load_inputs, parse_env_file

    overrides: dict[str, str] = {}
    if flags:
        for attr, key in _FLAG_INPUTS.items():
            value = getattr(args, attr)
            if value is not None:
                overrides[key] = value
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep or key not in KEYS:
                raise _Usage(
                    f"--set {item!r}: expected KEY=VALUE with KEY one of {', '.join(KEYS)}"
                )
            overrides[key] = value
    path = Path(args.config) if args.config else DEFAULT_CONFIG
    if path.exists():
        file_values = parse_env_file(path)
    elif args.config or not overrides:
        raise _Usage(f"{path} not found: copy deploy/deploy.env.example to it and fill it in")
    else:
        file_values = {}
    return load_inputs(file_values, overrides)


class _Usage(Exception):
    pass


def deploy_command(args: argparse.Namespace) -> int:
    from addon.manifest import ManifestError
    from deploy.firestore_plan import IndexFileError
    from deploy.inputs import InputError
    from deploy.plan import DEFAULT_BUILD_DIR, build_plan
    from deploy.runner import Applier
    from functions.config import SettingsError

    try:
        inputs = _inputs(args, flags=True)
        build_dir = Path(args.build_dir).resolve() if args.build_dir else DEFAULT_BUILD_DIR
        plan = build_plan(inputs, build_dir=build_dir)
    except (_Usage, InputError, SettingsError, ManifestError, IndexFileError) as exc:
        return _fail("deploy", str(exc))
    if not args.apply:
        sys.stdout.write(plan.render())
        return 0
    return Applier(plan, out=sys.stdout).apply()


def check_config_command(args: argparse.Namespace) -> int:
    from deploy.readiness import ENTRY_POINTS, check_environment
    from functions.config import SettingsError

    targets = (args.function,) if args.function else ENTRY_POINTS
    if args.function and args.function not in ENTRY_POINTS:
        return _fail("check-config", f"--function must be one of {', '.join(ENTRY_POINTS)}")
    from functions.domain.meeting_types import ConfigError, load_rules

    try:
        settings = check_environment(os.environ, targets)
        # Every function classifies meetings with this file; a mistake in it would
        # otherwise surface as the first request's error card.
        rules = load_rules(settings.meeting_types_path)
    except (SettingsError, ConfigError) as exc:
        return _fail("check-config", str(exc))
    from functions.materials.settings import model_warnings

    # Valid but known to fail at run time (a retired model answers 404): said, not refused.
    warnings = model_warnings(settings.materials)
    for warning in warnings:
        print(f"main.py check-config: warning: {warning}", file=sys.stderr)
    print(
        json.dumps(
            {
                "status": "ok",
                "mode": settings.mode.value,
                "functions": list(targets),
                "warnings": warnings,
                "meeting_types": rules.source,
                "meeting_type_count": len(rules.type_names),
            },
            ensure_ascii=False,
        )
    )
    return 0


def _settings_for(args: argparse.Namespace) -> Settings:
    from deploy.ops import deployed_env
    from functions.config import load_settings

    if not args.config:
        return load_settings()
    return load_settings(deployed_env(_inputs(args, flags=False), os.environ))


def rewrap_credentials_command(args: argparse.Namespace) -> int:
    from deploy.inputs import InputError
    from deploy.ops import rewrap_credentials
    from functions.config import SettingsError

    try:
        settings = _settings_for(args)
        result = rewrap_credentials(settings)
    except (_Usage, InputError, SettingsError) as exc:
        return _fail("rewrap-credentials", str(exc))
    print(json.dumps(result))
    return 0


def delete_user_command(args: argparse.Namespace) -> int:
    from deploy.inputs import InputError
    from deploy.ops import delete_user
    from functions.config import SettingsError

    if not args.yes:
        return _fail("delete-user", "this deletes the user's data for good: add --yes to confirm")
    if not args.user_id.strip():
        return _fail("delete-user", "--user-id must not be empty")
    try:
        settings = _settings_for(args)
        result = delete_user(settings, args.user_id.strip())
    except (_Usage, InputError, SettingsError) as exc:
        return _fail("delete-user", str(exc))
    print(json.dumps(result))
    return 0


def smoke_command(args: argparse.Namespace) -> int:
    from deploy.inputs import InputError
    from deploy.smoke import DeployedTarget, Smoke, StepFailed
    from functions.bootstrap import Bootstrap
    from functions.config import SettingsError

    if not args.user_id.strip():
        return _fail("smoke", "--user-id must not be empty")
    try:
        settings = _settings_for(args)
    except (_Usage, InputError, SettingsError) as exc:
        return _fail("smoke", str(exc))
    if settings.is_local:
        return _fail("smoke", "smoke runs against a deployed project: pass --config deploy.env")
    services = Bootstrap(settings)
    try:
        target = DeployedTarget.from_services(
            services, args.user_id.strip(), args.addon_url or settings.addon_audience
        )
    except StepFailed as exc:
        return _fail("smoke", str(exc), status=1)
    return Smoke(target, sys.stdout, wait_seconds=args.wait).run()


DEPLOY_COMMANDS: dict[str, Command] = {
    "deploy": deploy_command,
    "check-config": check_config_command,
    "rewrap-credentials": rewrap_credentials_command,
    "delete-user": delete_user_command,
    "smoke": smoke_command,
}
