"""Push channels (events.watch): opened, renewed, verified and stopped.

Google POSTs a bodiless ping to our webhook when a watched calendar changes.
Anyone can POST to a public URL, so each channel carries a token that only
this server can produce: an HMAC, under a server secret, of the channel id,
user and calendar. The token also names the user and calendar, so verifying a
ping needs no lookup by channel id (the store has none) and a forged ping is
refused before the store is touched. Nothing about tokens is stored.

Channels expire (Google does not renew them), so every sync checks its own
channel and opens a replacement before the old one lapses, then stops the
old one. The periodic sync stays the safety net: push is not guaranteed.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import secrets
import threading
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from functions.calendar.port import (
    AccessRevoked,
    CalendarError,
    CalendarSource,
    PushCalendarSource,
)
from functions.config import Settings
from functions.domain.sync_state import SyncState
from functions.logs import log
from functions.store.port import Store

if TYPE_CHECKING:
    from functions.sync.deps import SyncDeps

_log = logging.getLogger(__name__)

#: What we ask for; Google's default (and, as far as documented, typical) lifetime is a week.
CHANNEL_TTL = timedelta(days=7)
#: Renew when a channel would expire within the next sync interval plus this margin.
RENEW_MARGIN = timedelta(hours=1)
_FORMAT_TAG = "v1"
_MAX_TOKEN = 256


class _LocalSecret:
    """Local mode without PREP_WEBHOOK_SECRET: a per-process secret (no real channels locally)."""

    value: bytes | None = None
    lock = threading.Lock()


def channel_secret(settings: Settings) -> bytes:
    if settings.webhook_secret:
        return settings.webhook_secret.encode()
    if not settings.is_local:
        from functions.config import SettingsError

        raise SettingsError("PREP_WEBHOOK_SECRET is required for push channels in production")
    with _LocalSecret.lock:
        if _LocalSecret.value is None:
            _LocalSecret.value = secrets.token_bytes(32)
        return _LocalSecret.value


def _mac(secret: bytes, channel_id: str, user_id: str, calendar_id: str) -> str:
    message = "\x1f".join((_FORMAT_TAG, channel_id, user_id, calendar_id)).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def channel_token(secret: bytes, channel_id: str, user_id: str, calendar_id: str) -> str:
    """`v1.<base64 of [user, calendar]>.<hmac>`; at most 256 characters or ValueError."""
    who = base64.urlsafe_b64encode(json.dumps([user_id, calendar_id]).encode()).decode()
    token = f"{_FORMAT_TAG}.{who.rstrip('=')}.{_mac(secret, channel_id, user_id, calendar_id)}"
    if len(token) > _MAX_TOKEN:
        raise ValueError("user and calendar ids too long for a channel token")
    return token


def verify_channel_token(secret: bytes, channel_id: str, token: str) -> tuple[str, str] | None:
    """(user_id, calendar_id) if `token` was issued by us for `channel_id`, else None."""
    version, _, rest = token.partition(".")
    who, _, mac = rest.partition(".")
    if version != _FORMAT_TAG or not who or not mac or len(token) > _MAX_TOKEN:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)))
    except ValueError:
        return None
    if (
        not isinstance(decoded, list)
        or len(decoded) != 2
        or not all(isinstance(x, str) and x for x in decoded)
    ):
        return None
    user_id, calendar_id = decoded
    expected = _mac(secret, channel_id, user_id, calendar_id)
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        return None
    return user_id, calendar_id


def push_enabled(settings: Settings, source: CalendarSource) -> bool:
    """Google delivers only to public HTTPS addresses, and only API calendars push."""
    return isinstance(source, PushCalendarSource) and settings.webhook_url.startswith("https://")


def maintain_channel(
    *,
    store: Store,
    source: CalendarSource,
    settings: Settings,
    state: SyncState,
    now: datetime,
    interval: timedelta,
) -> SyncState:
    """Open a channel if there is none or it expires before the next sync; returns the state.

    Best effort: a failure is logged and the periodic sync carries on without
    push. Only a revoked grant propagates, because it needs the user.
    """
    if not push_enabled(settings, source):
        return state
    assert isinstance(source, PushCalendarSource)
    renew_by = now + interval + RENEW_MARGIN
    if state.channel_id and state.channel_expires_at and state.channel_expires_at > renew_by:
        return state
    channel_id = uuid.uuid4().hex
    try:
        token = channel_token(
            channel_secret(settings), channel_id, state.user_id, state.calendar_id
        )
        channel = source.watch(
            state.calendar_id,
            channel_id=channel_id,
            address=settings.webhook_url,
            token=token,
            ttl=CHANNEL_TTL,
        )
    except AccessRevoked:
        raise
    except (CalendarError, ValueError) as exc:
        log(
            _log,
            logging.WARNING,
            "push channel not opened",
            user_id=state.user_id,
            error=type(exc).__name__,
        )
        return state
    old_id, old_resource = state.channel_id, state.channel_resource_id
    state = dataclasses.replace(
        state,
        channel_id=channel.channel_id,
        channel_resource_id=channel.resource_id,
        channel_expires_at=channel.expires_at,
    )
    store.put_sync_state(state)
    log(_log, logging.INFO, "push channel opened", user_id=state.user_id, renewed=bool(old_id))
    if old_id and old_resource:
        _stop_quietly(source, old_id, old_resource, state.user_id)
    return state


def _stop_quietly(source: PushCalendarSource, channel_id: str, resource_id: str, uid: str) -> bool:
    try:
        source.stop_channel(channel_id, resource_id)
    except CalendarError as exc:
        # It expires on its own; its pings meanwhile fail verification (not current).
        log(
            _log, logging.WARNING, "push channel not stopped", user_id=uid, error=type(exc).__name__
        )
        return False
    return True


def stop_channels(
    store: Store, source: CalendarSource, user_id: str, calendar_ids: Sequence[str]
) -> int:
    """Stop the user's channels and forget them; returns how many were stopped."""
    stopped = 0
    for calendar_id in calendar_ids:
        state = store.get_sync_state(user_id, calendar_id)
        if state is None or not state.channel_id:
            continue
        if (
            isinstance(source, PushCalendarSource)
            and state.channel_resource_id
            and _stop_quietly(source, state.channel_id, state.channel_resource_id, user_id)
        ):
            stopped += 1
    _forget(store, user_id, calendar_ids)
    return stopped


def _forget(store: Store, user_id: str, calendar_ids: Sequence[str]) -> None:
    for calendar_id in calendar_ids:
        state = store.get_sync_state(user_id, calendar_id)
        if state is not None and state.channel_id:
            store.put_sync_state(
                dataclasses.replace(
                    state, channel_id=None, channel_resource_id=None, channel_expires_at=None
                )
            )


def stop_all(services: SyncDeps, user_id: str, calendar_ids: Sequence[str] | None = None) -> int:
    """For disconnect: stop the user's push channels while their credentials still work.

    By default every calendar the user syncs: their own and, in assistant mode,
    each executive's calendar they prepare for.

    Call it *before* the grant is revoked or forgotten (channels.stop needs the
    same user's authorization). Without working credentials the channels are
    only forgotten: Google drops them at expiry, and their pings meanwhile
    fail verification because they are no longer the user's current channel.
    """
    from functions.oauth.credentials import ReconnectNeeded
    from functions.tasks.endpoint import RetryLater

    user = services.store.get_user(user_id)
    if user is None:
        return 0
    if calendar_ids is None:
        calendar_ids = ("primary", *user.preferences.delegated_calendars)
    try:
        source = services.calendar_for(user)
    except (ReconnectNeeded, RetryLater) as exc:
        log(
            _log,
            logging.INFO,
            "channels forgotten without stopping",
            user_id=user_id,
            error=type(exc).__name__,
        )
        _forget(services.store, user_id, calendar_ids)
        return 0
    return stop_channels(services.store, source, user_id, calendar_ids)
