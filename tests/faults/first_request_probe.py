"""Run in a fresh process: import `main`, answer the sidebar's first requests, report imports.

    python -m tests.faults.first_request_probe [--event-id ID] [--user-id U]

Environment: a local-mode configuration (PREP_MODE=local, PREP_SQLITE_PATH, ...)
whose store already holds the user and meeting (seed it from another
process, so seeding imports nothing here). The probe calls the deployed
`addon` entry point in process for a homepage request and, with
`--event-id`, an eventOpen request, then prints one JSON line: the HTTP
statuses, which heavy Google clients ended up in `sys.modules`, how many of
the rules' keyword patterns the requests compiled, whether PyYAML got
imported, and which of the other deferred libraries (`DEFERRED_MODULES`) did.

`tests/faults/test_lazy_imports.py` asserts on it; `bench/bench_cold_start.py`
runs it under `-X importtime` to show where the first request's time goes.
Nothing of this lives in production code: it is a look from outside.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

#: Clients that must be imported only by the code paths that use them.
HEAVY_MODULES = (
    "google.cloud.firestore",
    "google.cloud.tasks_v2",
    "google.cloud.storage",
    "google.genai",
    "googleapiclient.discovery",
)

#: Libraries the first requests do without, though nearby code uses them
#: (bench/bench_cold_start.py, issue 14): google-auth's jwt module (and with
#: it google.auth.credentials and asyncio; tokens are checked with
#: cryptography directly) and the sync engine (the sidebar and settings need
#: only `functions.sync.horizons`) and Babel (the card's en-US dates come
#: from config/timefmt/), nor the adapters the root hands the sidebar for
#: clicks (the prep-time block's writer, the shared agenda's ports), which
#: are functions that import them when a click runs.
DEFERRED_MODULES = (
    "google.auth.jwt",
    "google.auth.credentials",
    "asyncio",
    "functions.sync.engine",
    "babel",
    "functions.sync.local",
    "functions.sync.local_blocks",
    "functions.calendar.writer",
    "functions.share.local",
)


def _post(handler: Any, body: dict[str, Any]) -> tuple[int, str]:
    import flask

    app = flask.Flask("first-request-probe")
    with app.test_request_context(
        "/addon", method="POST", data=json.dumps(body), content_type="application/json"
    ):
        response = handler(flask.request)
        return response.status_code, response.get_data(as_text=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--event-id")
    parser.add_argument("--user-id", default="local-user")
    parser.add_argument("--email", default="you@example.com")
    args = parser.parse_args(argv)

    # Count the keyword patterns compiled, wherever they are compiled from (the
    # wrapper is in place before any module imports the function).
    from functions.domain import meeting_types

    compiled: list[str] = []
    compile_pattern = meeting_types.keyword_pattern

    def counting(keyword: str) -> Any:
        compiled.append(keyword)
        return compile_pattern(keyword)

    meeting_types.keyword_pattern = counting

    import main as entry_points
    from addon.dev_event import event_object
    from functions.bootstrap import get_services

    services = get_services()
    status, _ = _post(
        entry_points.addon, event_object(services, user_id=args.user_id, email=args.email)
    )
    statuses = [status]
    title_shown = None
    if args.event_id:
        meeting = services.store.get_meeting(args.user_id, args.event_id)
        if meeting is None:
            print(json.dumps({"error": "the meeting is not in the store"}))
            return 2
        opened = event_object(services, user_id=args.user_id, email=args.email, meeting=meeting)
        status, text = _post(entry_points.addon, opened)
        statuses.append(status)
        title_shown = json.dumps(meeting.title, ensure_ascii=False)[1:-1] in text
    keywords = sum(len(m.keywords) for r in services.classifier.rules.rules for m in r.matches)
    loaded = sorted(
        name
        for name in sys.modules
        if name.startswith(("google.cloud.", "googleapiclient", "google.genai", "grpc"))
    )
    print(
        json.dumps(
            {
                "statuses": statuses,
                "title_shown": title_shown,
                "heavy": [m for m in HEAVY_MODULES if m in sys.modules],
                "google_modules": loaded,
                "modules": len(sys.modules),
                "keyword_patterns": [len(compiled), keywords],
                "yaml_imported": "yaml" in sys.modules,
                "deferred_imported": [m for m in DEFERRED_MODULES if m in sys.modules],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
