"""The embedded default: every endpoint in one local process, no Google account.

Uses functions-framework's own app factory on the `local` target of
`main.py`, so locally the requests go through exactly the code a deployed
function runs; only the adapters behind the ports differ.

`/healthz` here also asks the SQLite store for a connection and a read: one
process is the whole product, so a store it cannot open (descriptors used
up, a corrupt file) fails every page, and the health check says so with a
503. The deployed `health` function stays liveness only: a Firestore read
per probe would cost money and tell a load balancer nothing it can fix.
(The handler is `functions.local_home.health`, mounted by the root.)
"""

from __future__ import annotations

import atexit
import logging
import os

from functions.bootstrap import Bootstrap, set_services
from functions.config import REPO_ROOT, load_settings
from functions.local_address import forget_served, write_served
from functions.logs import configure, log

_log = logging.getLogger(__name__)


def serve(*, host: str, port: int) -> None:
    import functions_framework

    # Token audiences follow the address actually served, unless set explicitly.
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    os.environ.setdefault("PREP_PUBLIC_URL", f"http://{shown_host}:{port}")
    settings = load_settings()
    configure(settings.log_level)
    # Werkzeug's access lines carry query strings (an OAuth callback's code and
    # state among them), so they are silenced rather than scrubbed.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if not settings.is_local:
        raise SystemExit("`serve` runs the embedded default; unset PREP_MODE or set it to local")
    services = Bootstrap(settings)
    _ = services.store  # create the database before the first request
    _ = services.classifier  # fail fast on a bad rules file
    set_services(services)
    from functions.tasks.local_queue import LocalTaskQueue

    if isinstance(services.tasks, LocalTaskQueue):
        services.tasks.start()  # deliver queued and scheduled tasks in the background
    from functions.sync.local import ImportWatcher, sync_at_start

    sync_at_start(services)  # the .ics calendar's meetings are there on the first page load
    # `main.py sync-local --ics FILE` from another terminal shows up without a restart.
    ImportWatcher(services).start()
    app = functions_framework.create_app(target="local", source=str(REPO_ROOT / "main.py"))
    # `main.py dev-event` signs its tokens for this address (their audience names the port).
    write_served(settings.sqlite_path, settings.public_url)
    atexit.register(forget_served, settings.sqlite_path)
    log(_log, logging.INFO, "serving locally", url=f"http://{host}:{port}/", store="sqlite")
    print(f"Meeting prep is running on http://{host}:{port}/  (health: /healthz, Ctrl-C stops)")
    app.run(host=host, port=port, threaded=True, use_reloader=False)
