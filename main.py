"""Entry points: functions-framework targets, and the command line.

Deployed, each target below is one Cloud Function (2nd gen). Locally,
`python main.py serve` runs the `local` target, which serves every route
from one process on the embedded default (SQLite, local stand-ins).
Run `python main.py --help` for the command line.
"""

from __future__ import annotations

import sys

import functions_framework
from flask import Request, Response

from functions import routes, web


@functions_framework.http
def health(request: Request) -> Response:
    return web.health(request)


@functions_framework.http
def local(request: Request) -> Response:
    """Every route in one process: the embedded default used by `python main.py serve`."""
    return web.dispatch(routes.local_routes(), request)


if __name__ == "__main__":
    from functions.cli import main

    sys.exit(main(sys.argv[1:]))
