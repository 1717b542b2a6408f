""" "Share agenda with guests": the sidebar click that attaches the agenda to the event.

The two write scopes it needs (`calendar.events.owned` to patch the event's
attachments, `drive.file` to create the document) are asked for at this
click and nowhere else: when `authorizedScopes` lacks them the answer is
Workspace's scope request, and Workspace re-runs the click after consent.
Nothing is asked before the prep is ready (a meeting without it gets a
notification instead).

The work itself is `functions.share.agenda.share_agenda` (who may share,
one document per event, agenda only); this module picks the adapters (Google
with the user's add-on token, or the local stand-ins in local mode) and
turns the outcome into a notification.
"""

from __future__ import annotations

import logging

from addon import cards as c
from addon import handlers, scopes
from addon.sidebar import Call
from functions.calendar.port import CalendarError, PermissionDenied
from functions.delegation.keys import is_delegated
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.logs import log
from functions.materials.render import render_shared_agenda
from functions.materials.storage import MaterialsStorage
from functions.share.agenda import InFlight, Outcome, Refused, share_agenda
from functions.share.port import AgendaCalendar, AgendaDocs, DocsError
from functions.store.port import Store

_log = logging.getLogger(__name__)


def agenda_html(storage: MaterialsStorage, meeting: Meeting, locale: str) -> str | None:
    """The guests' document for a meeting's current materials; None if it has no agenda yet.

    Rendered from the stored agenda alone (`SummaryRecord.agenda`), so the
    private sections of the materials are never at hand here.
    """
    if not meeting.materials_ref:
        return None
    record = storage.read_summary(meeting.materials_ref)
    if record is None or not record.agenda:
        return None
    return render_shared_agenda(
        title=meeting.title,
        start=meeting.start,
        end=meeting.end,
        time_zone=meeting.time_zone,
        locale=locale,
        agenda=record.agenda,
    )


def share_meeting_agenda(
    calendar: AgendaCalendar,
    docs: AgendaDocs,
    store: Store,
    storage: MaterialsStorage,
    *,
    user_id: str,
    meeting: Meeting,
    locale: str = "en-US",
) -> Outcome:
    """Share the current agenda of a stored meeting (the sidebar click, without Flask)."""
    page = agenda_html(storage, meeting, locale)
    if page is None:
        return Refused("This prep has no agenda to share yet.")
    return share_agenda(
        calendar,
        docs,
        store,
        user_id=user_id,
        calendar_id=meeting.calendar_id,
        event_id=meeting.event_id,
        title=meeting.title,
        html=page,
    )


def share_agenda_action(call: Call) -> c.Json:
    meeting = handlers.stored_meeting(call)
    if meeting is None:
        return c.notify(handlers.GONE)
    if is_delegated(meeting):
        return c.notify("Only meetings on your own calendar can be shared from here.")
    if meeting.prep_state not in (PrepState.READY, PrepState.DELIVERED):
        return c.notify("Generate the prep first: its agenda is what guests will see.")
    lacking = scopes.missing(scopes.SHARE_AGENDA, call.event.authorized_scopes)
    if lacking:
        return c.request_scopes(lacking)
    token = call.event.user_oauth_token
    if not token and not call.app.settings.is_local:
        return c.notify("Calendar did not share access to your calendar; please try again.")
    ports = call.app.share_ports
    if ports is None:  # a sidebar built without them (the root always hands them in)
        return c.notify("Sharing the agenda is not available here.")
    calendar, docs = ports(call, token or "")
    try:
        outcome = share_meeting_agenda(
            calendar,
            docs,
            call.app.store,
            call.app.services.materials_storage,
            user_id=call.user_id,
            meeting=meeting,
            locale=call.user.locale,
        )
    except PermissionDenied:
        return c.notify("Google Calendar did not allow changing this event.")
    except (CalendarError, DocsError) as exc:
        log(_log, logging.WARNING, "agenda not shared", error=type(exc).__name__)
        return c.notify("Google did not answer. Please try again in a moment.")
    if isinstance(outcome, Refused):
        return c.notify(outcome.text)
    if isinstance(outcome, InFlight):
        return c.notify("The agenda is being shared already; it will be on the event in a moment.")
    log(_log, logging.INFO, "agenda shared", user_id=call.user_id, created=outcome.created)
    note = (
        "Agenda shared: it is attached to the event for every guest."
        if outcome.created
        else "Shared agenda updated: guests see the current agenda."
    )
    return c.render(note=note, opens=c.link(outcome.url, overlay=False, reload_on_close=False))
