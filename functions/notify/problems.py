"""Delivery problems a user has to fix, as stored in `User.delivery_problem`.

Codes are "<channel>:<what>", so a later successful send on that channel can
clear its own problem without touching another channel's. The homepage card
shows `describe(code)`; the code itself never reaches the user.
"""

from __future__ import annotations

from functions.notify.port import Channel

CHAT_NO_DM = "chat:no_dm_space"
CHAT_FORBIDDEN = "chat:forbidden"
CHAT_APP_REMOVED = "chat:app_removed"
CHAT_REJECTED = "chat:rejected"
EMAIL_NOT_AUTHORIZED = "email:not_authorized"
EMAIL_NO_ADDRESS = "email:no_address"
EMAIL_REJECTED = "email:rejected"

_TEXT = {
    CHAT_NO_DM: (
        "We can't message you in Google Chat: add the Meeting prep app in Chat "
        "(or ask your admin to install it)."
    ),
    CHAT_FORBIDDEN: "Google Chat refused our messages: check that the Meeting prep app is allowed.",
    CHAT_APP_REMOVED: "You removed the Meeting prep app from Google Chat: Chat reminders are off.",
    CHAT_REJECTED: "Google Chat rejected our reminder; Chat reminders are paused.",
    EMAIL_NOT_AUTHORIZED: "We can't send you email: reconnect your Google account to allow it.",
    EMAIL_NO_ADDRESS: "We don't know your email address: reconnect your Google account.",
    EMAIL_REJECTED: "Gmail rejected our reminder email; reminders by email are paused.",
}


def describe(code: str | None) -> str | None:
    """What the user should read on their homepage card, or None for no problem."""
    if not code:
        return None
    return _TEXT.get(code, "A reminder could not be delivered.")


def channel_of(code: str | None) -> Channel | None:
    if not code:
        return None
    prefix = code.partition(":")[0]
    try:
        return Channel(prefix)
    except ValueError:
        return None
