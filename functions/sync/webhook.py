"""POST /calendar/webhook: Google's push pings, verified and turned into one deduplicated sync.

Google sends no OIDC token here, only the channel's headers, so the channel
token (see `channels`) is the authentication. The answer is quick and says
nothing: 200 for a genuine ping, 401 for a forged one, 404 for a channel we
no longer use. A ping carries no content; it only means "list with your sync
token soon", which is what the queued task does.
"""

from __future__ import annotations

import hashlib
import logging

from flask import Request, Response

from functions.logs import log
from functions.sync.channels import channel_secret, verify_channel_token
from functions.sync.deps import SyncDeps
from functions.sync.tasks import request_sync
from functions.web import json_error, json_response

_log = logging.getLogger(__name__)

#: Resource states that mean "something changed"; "sync" only confirms a new channel.
CHANGE_STATES = frozenset({"exists", "not_exists"})


def _fingerprint(channel_id: str) -> str:
    """Enough to correlate log lines, not enough to replay anything."""
    return hashlib.sha256(channel_id.encode()).hexdigest()[:12]


def calendar_webhook(services: SyncDeps, request: Request) -> Response:
    if request.method != "POST":
        return json_error(405, "method_not_allowed", "notifications are POSTed")
    channel_id = request.headers.get("X-Goog-Channel-ID", "")
    token = request.headers.get("X-Goog-Channel-Token", "")
    resource_state = request.headers.get("X-Goog-Resource-State", "")
    resource_id = request.headers.get("X-Goog-Resource-ID", "")
    if not channel_id or not resource_state or len(channel_id) > 64:
        return json_error(400, "bad_request", "not a calendar notification")
    who = verify_channel_token(channel_secret(services.settings), channel_id, token)
    if who is None:
        log(_log, logging.WARNING, "webhook rejected", channel=_fingerprint(channel_id))
        return json_error(401, "unauthenticated", "caller is not allowed")
    user_id, calendar_id = who
    if resource_state == "sync":
        # Sent once when the channel opens, possibly before we stored it: ack only.
        return json_response({"status": "ok"})
    state = services.store.get_sync_state(user_id, calendar_id)
    if (
        state is None
        or state.channel_id != channel_id
        or (resource_id and state.channel_resource_id != resource_id)
    ):
        log(_log, logging.INFO, "webhook for a retired channel", channel=_fingerprint(channel_id))
        return json_error(404, "not_found", "no such channel")
    if resource_state not in CHANGE_STATES:
        return json_response({"status": "ignored"})
    created = request_sync(services.tasks, user_id, services.clock.now(), calendar_id)
    log(_log, logging.INFO, "webhook accepted", user_id=user_id, created=created)
    return json_response({"status": "ok"})
