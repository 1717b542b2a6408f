"""Context sources in Settings: one switch per source, one line each, consent only when turned on.

A switch group `context_sources` lists the sources (mail threads, attached
documents) with what each reads, in one line. Saving with a source newly on
whose scope the background grant lacks answers with Google's consent page
for just that scope (`start_authorization(..., only_extra=True)`: the same
state+PKCE flow, `include_granted_scopes=true`), opened as an overlay that
reloads the card when closed. A user who is not connected yet gets the full
connect (the configured scopes and the new one). A source read without the
grant (the local sample mailbox and documents folder) asks for nothing. With domain-wide delegation
there is no consent to ask for: the card says the administrator must add the
scope. Turning a switch off is saved like any setting and stops the source
at the next generation; nothing is revoked (the scope is part of the one
grant the reminders and the sync also use).

The Workspace add-on's own consent (`requesting_google_scopes`) is not the
mechanism here: it covers the sidebar's short-lived user token, while the
sources are read in background tasks with the stored refresh token.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from addon import cards as c
from addon.sidebar import Call
from addon.views import FIELD
from functions.domain.users import ConnectionState, ContextSource, User
from functions.logs import log
from functions.materials.sources import (
    SourceState,
    missing_scopes,
    source_state,
)

_log = logging.getLogger(__name__)

Form = Mapping[str, Sequence[str]]


def parse_sources(form: Form) -> frozenset[ContextSource]:
    """The switches that are on; unknown values are ignored (a forged form adds nothing)."""
    known = {s.value: s for s in ContextSource}
    return frozenset(known[v] for v in form.get(FIELD, ()) if v in known)


def granted_scopes_of(call: Call) -> tuple[str, ...] | None:
    """The background grant's scopes (None: nothing stored, or it does not open)."""
    from functions.delegation.access import granted_scopes

    try:
        return granted_scopes(call.app.services.credentials, call.user_id)
    except Exception as exc:  # the card must render even when the grant cannot be read
        log(_log, logging.WARNING, "grant not readable for settings", error=type(exc).__name__)
        return None


def _needs_grant(call: Call, source: ContextSource) -> bool:
    """Whether the source's reader acts with the user's grant: Gmail and Drive do; the
    local sample mailbox and documents folder (`make run`) need the switch alone, and
    documents turned off for the deployment are never read, so nothing is asked."""
    services = call.app.services
    if source is ContextSource.MAIL:
        return bool(services.mail_threads.needs_grant)
    return bool(services.settings.materials.documents == "drive")


def waiting_for_consent(call: Call, user: User) -> frozenset[ContextSource]:
    """Sources the user turned on whose scope the grant does not cover yet."""
    on = user.preferences.context_sources
    if not on:
        return frozenset()
    granted = granted_scopes_of(call)
    return frozenset(
        s
        for s in on
        if source_state(user.preferences, s, granted, needs_grant=_needs_grant(call, s))
        is SourceState.NEEDS_CONSENT
    )


def consent_answer(call: Call, sources: Iterable[ContextSource]) -> c.Json | None:
    """Google's consent for exactly the scopes `sources` lack, or None when none is lacking."""
    granted = granted_scopes_of(call)
    wanted = [s for s in ContextSource if s in set(sources) and _needs_grant(call, s)]
    scopes = list(dict.fromkeys(x for s in wanted for x in missing_scopes(s, granted)))
    if not scopes:
        return None
    services = call.app.services
    if services.credentials.delegation is not None:
        return c.notify(
            "Settings saved. Your administrator grants Meeting prep's access: ask them to add "
            f"{', '.join(scopes)} to its domain-wide delegation."
        )
    from functions.oauth.flow import start_authorization

    connected = call.user.connection is ConnectionState.CONNECTED and granted is not None
    url = start_authorization(
        services, call.user_id, call.who.email, extra_scopes=scopes, only_extra=connected
    )
    log(_log, logging.INFO, "context source consent started", user_id=call.user_id)
    return c.render(opens=c.link(url, overlay=True, reload_on_close=True))


def allow_sources(call: Call) -> c.Json:
    """The "Allow" button: consent for every source that is on and waiting."""
    answer = consent_answer(call, call.user.preferences.context_sources)
    return answer or c.notify("Access is already allowed.")
