"""Entry points: functions-framework targets, and the command line.

Deployed, each target below is one Cloud Function (2nd gen). Locally,
`python main.py serve` runs the `local` target, which serves every route
from one process on the embedded default (SQLite, local stand-ins).
Run `python main.py --help` for the command line.

Each target answers from a route table of the composition root
(`functions.bootstrap.serve`), which binds the process-wide root into the
handlers; nothing here builds an adapter.
"""

from __future__ import annotations

import sys

import functions_framework
from flask import Request, Response

from functions import web


@functions_framework.http
def health(request: Request) -> Response:
    return web.health(request)


@functions_framework.http
def addon(request: Request) -> Response:
    """The Calendar sidebar: the Workspace add-on's one HTTP endpoint."""
    from functions.bootstrap import addon_routes, serve

    return serve(addon_routes, request)


@functions_framework.http
def tasks(request: Request) -> Response:
    """Every /tasks/* path (Cloud Tasks and Cloud Scheduler), OIDC-verified per route."""
    from functions.bootstrap import serve, task_routes

    return serve(task_routes, request)


@functions_framework.http
def calendar_webhook(request: Request) -> Response:
    """Calendar push notifications: verified by channel token, they queue a sync."""
    from functions.bootstrap import serve, webhook_routes

    return serve(webhook_routes, request)


@functions_framework.http
def oauth(request: Request) -> Response:
    """The OAuth consent redirect (`/oauth/callback`): trusted only through its state."""
    from functions.bootstrap import oauth_routes, serve

    return serve(oauth_routes, request)


@functions_framework.http
def chat(request: Request) -> Response:
    """The Google Chat app: card clicks (Generate prep), verified as coming from Chat.

    Deployed on its own, the function's URL is the Chat app's endpoint, so any
    path is the Chat endpoint.
    """
    from functions.bootstrap import chat_endpoint, serve_one

    return serve_one(chat_endpoint, request)


@functions_framework.http
def local(request: Request) -> Response:
    """Every route in one process: the embedded default used by `python main.py serve`."""
    from functions.bootstrap import local_routes, serve

    return serve(local_routes, request)


if __name__ == "__main__":
    from functions.cli import main

    sys.exit(main(sys.argv[1:]))
