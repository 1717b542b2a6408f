"""`python main.py ...`: run the local server and try the product's rules.

Bad input exits with status 2 and one line on stderr, so scripts can tell
"you called me wrong" (2) from "something failed" (1). A store that cannot be
opened (a corrupt or foreign file) is one line and status 1, not a traceback;
a reader that goes away (`main.py dev-event | head`) ends the command quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, NoReturn

from functions.config import Settings, SettingsError, load_settings
from functions.domain.meeting_types import ConfigError

if TYPE_CHECKING:
    from functions.bootstrap import Bootstrap
    from functions.domain.classification import Classifier

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


class UsageError(Exception):
    """Bad input noticed after parsing (a value of the right type but wrong meaning)."""


def _whole_number(text: str, *, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _whole_number(text, minimum=1)


def _count(text: str) -> int:
    return _whole_number(text, minimum=0)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number like 0.95, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _port(text: str) -> int:
    """A TCP port; 70000 would otherwise be taken modulo 65536 by the socket layer."""
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, got {value}")
    return value


def _aware_datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time like 2026-12-01T09:00:00+01:00, got {text!r}"
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("the time needs a UTC offset, e.g. +00:00")
    return value


def _domain(text: str) -> str:
    value = text.strip().lower().lstrip("@")
    if "@" in value:
        value = value.rpartition("@")[2]
    if not value or "." not in value or any(c.isspace() for c in value):
        raise argparse.ArgumentTypeError(f"not an email domain: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="main.py", description="Meeting prep for Google Calendar.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = sub.add_parser("serve", help="run the product locally on the embedded default")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8080)

    classify = sub.add_parser(
        "classify",
        help="classify a meeting with the configured rules, or measure them on a labelled set",
    )
    classify.add_argument("--title")
    classify.add_argument("--description", default="")
    classify.add_argument(
        "--attendees", type=_positive_int, default=1, help="people attending, you included"
    )
    classify.add_argument(
        "--attendee-domain",
        action="append",
        type=_domain,
        default=[],
        help="email domain of an attendee (repeatable); outside --user-domain means external",
    )
    classify.add_argument("--user-domain", type=_domain, default="example.com")
    classify.add_argument(
        "--rooms", type=_count, default=0, help="rooms booked on the event (default 0)"
    )
    classify.add_argument(
        "--evaluate",
        metavar="FILE",
        help="instead of one meeting: accuracy per type on a labelled set "
        "(e.g. tests/data/meeting_titles.yaml)",
    )
    classify.add_argument(
        "--min-accuracy",
        type=_fraction,
        help="with --evaluate: exit 1 when overall accuracy is below this (e.g. 0.95)",
    )
    classify.add_argument(
        "--start", type=_aware_datetime, help="meeting start, to print the prep trigger time"
    )
    classify.add_argument("--config", help="rules file (default: config/meeting_types.yaml)")
    from addon.cli import add_addon_commands

    add_addon_commands(sub)
    from functions.sync.cli import add_sync_commands

    add_sync_commands(sub)
    from functions.feedback.report import add_report_command

    add_report_command(sub)
    from deploy.cli import add_deploy_commands

    add_deploy_commands(sub)
    from functions.materials.evaluation import add_eval_command

    add_eval_command(sub)
    return parser


def _classify(args: argparse.Namespace) -> int:
    from functions.domain.classification import (
        Classifier,
        MeetingFacts,
        prep_trigger_time,
    )
    from functions.domain.meeting_types import load_rules
    from functions.domain.users import DEFAULT_WORKING_DAYS

    path = args.config or load_settings().meeting_types_path
    classifier = Classifier(load_rules(path))
    if args.evaluate is not None:
        if args.title is not None:
            raise UsageError("--evaluate reads titles from its file; leave out --title")
        return _evaluate(classifier, args.evaluate, args.min_accuracy)
    if args.min_accuracy is not None:
        raise UsageError("--min-accuracy goes with --evaluate")
    if args.title is None or not args.title.strip():
        raise UsageError("--title must not be empty (or use --evaluate FILE)")
    facts = MeetingFacts(
        title=args.title,
        description=args.description,
        attendee_count=max(args.attendees, len(args.attendee_domain) + 1),
        attendee_domains=frozenset(args.attendee_domain),
        rooms=args.rooms,
    )
    result = classifier.classify_facts(facts, user_domain=args.user_domain)
    internal = classifier.internal_domains_for(args.user_domain)
    out: dict[str, object] = {
        "meeting_type": result.meeting_type,
        "label": result.label,
        "prep_hours_before": result.prep_hours_before,
        "decided_by": result.decided_by,
        "reason": result.reason,
        "attendee_count": facts.attendee_count,
        "external": any(d not in internal for d in facts.attendee_domains),
    }
    if args.start is not None:
        # The product's default week (Monday to Friday), in the start's own offset.
        trigger = prep_trigger_time(
            args.start,
            result.prep_hours_before,
            args.start,
            time_zone=args.start.tzinfo,
            working_days=DEFAULT_WORKING_DAYS,
        )
        out["prep_trigger_at"] = trigger.isoformat()
    print(json.dumps(out, ensure_ascii=False))
    return 0


def _evaluate(classifier: Classifier, path: str, min_accuracy: float | None) -> int:
    """Print accuracy per type on a labelled set; 1 when below `min_accuracy`."""
    from functions.domain.evaluation import CasesError, evaluate, load_cases

    try:
        user_domain, cases = load_cases(path, classifier.rules.type_names)
    except CasesError as exc:
        raise UsageError(str(exc)) from None
    result = evaluate(classifier, cases, user_domain=user_domain)
    print(result.report())
    if min_accuracy is not None and result.accuracy < min_accuracy:
        print(
            f"main.py classify: accuracy {result.accuracy:.1%} is below {min_accuracy:.1%}",
            file=sys.stderr,
        )
        return 1
    return 0


def _serve(args: argparse.Namespace) -> int:
    from functions.local_server import serve

    serve(host=args.host, port=args.port)
    return 0


def _with_root(
    table: Mapping[str, Callable[[argparse.Namespace, Callable[[Settings], Bootstrap]], int]],
) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Commands that work on the composition root, given its constructor (the CLI is an entry
    point: it alone, with `main.py` and the local server, builds the root)."""

    def bind(
        command: Callable[[argparse.Namespace, Callable[[Settings], Bootstrap]], int],
    ) -> Callable[[argparse.Namespace], int]:
        def run(args: argparse.Namespace) -> int:
            from functions.bootstrap import Bootstrap

            return command(args, Bootstrap)

        return run

    return {name: bind(command) for name, command in table.items()}


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from addon.cli import ADDON_COMMANDS, ADDON_ROOT_COMMANDS
    from deploy.cli import DEPLOY_COMMANDS
    from functions.feedback.report import REPORT_COMMANDS
    from functions.materials.evaluation import EVAL_COMMANDS
    from functions.sync.cli import SYNC_COMMANDS

    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "classify": _classify,
        "serve": _serve,
        **ADDON_COMMANDS,
        **_with_root(ADDON_ROOT_COMMANDS),
        **_with_root(SYNC_COMMANDS),
        **_with_root(REPORT_COMMANDS),
        **DEPLOY_COMMANDS,
        **_with_root(EVAL_COMMANDS),
    }
    from functions.store.port import StoreError

    try:
        code = commands[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, not as a traceback at exit
        return code
    except (UsageError, ConfigError, SettingsError) as exc:
        print(f"main.py {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        print(f"main.py {args.command}: error: {first_line}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader left (`| head`): what it did not read is not wanted. Point
        # stdout at /dev/null so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
