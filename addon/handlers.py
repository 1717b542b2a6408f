"""What each sidebar request does: the two triggers and the button actions.

Routing: a button click carries `op` in its parameters; without one, an
event object that names an opened event is the eventOpen trigger, anything
else the homepage. Every id that arrives in the body is looked up under the
verified user (`call.user_id`), so one user can never reach another's
meeting by sending its event id.

Nothing here waits on slow work: "Generate prep" queues a task and answers
with the card in its "Preparing…" state at once. Re-planning (a settings
save, a series re-type) writes every upcoming meeting but queues prep tasks
only for triggers inside the sync's two-day horizon (`prep_task_due`): the
next syncs create the rest as their triggers come near, so a save for a user
with 2,000 upcoming meetings costs a handful of Cloud Tasks calls, and none
is ever scheduled past Cloud Tasks' 30-day limit. Where no background sync
will come (a user not connected, a calendar the sync does not read), the
sidebar queues as far ahead as that limit allows.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import time, timedelta
from typing import TYPE_CHECKING

from addon import action_items, scopes, views
from addon import cards as c
from addon.durations import BadDuration, format_lead, parse_lead
from addon.event_object import MalformedEvent
from addon.feedback_record import record_type_correction
from addon.sidebar import Call
from functions.calendar.mapping import UnusableEvent, meeting_from_event
from functions.calendar.port import CalendarError, EventNotFound, PermissionDenied
from functions.domain.followups import FollowupMode
from functions.domain.meeting_types import normalize_text
from functions.domain.meetings import Meeting
from functions.domain.planning import plan_meeting
from functions.domain.prep_state import PrepState
from functions.domain.users import (
    MAX_KEYWORD_LENGTH,
    MAX_KEYWORDS_PER_TYPE,
    MAX_LEAD_HOURS,
    ConnectionState,
    DeliveryMode,
    OverrideScope,
    Preferences,
    QuietHours,
    User,
    override_key,
)
from functions.domain.working_days import parse_working_days
from functions.logs import log
from functions.prep.queueing import DONE_STATES, CannotGenerate, prep_task, queue_generation
from functions.sync.horizons import PREP_HORIZON, prep_task_due
from functions.tasks.port import MAX_SCHEDULE_AHEAD

if TYPE_CHECKING:
    from functions.materials.carry_over import CarryOverNote

_log = logging.getLogger(__name__)

Action = Callable[[Call], c.Json]

#: How far ahead a series-wide type change re-plans stored meetings.
SERIES_HORIZON = timedelta(days=400)
SERIES_SCAN_LIMIT = 2000


# ---------------------------------------------------------------- routing


def needed_scopes(call_op: str | None, has_opened_event: bool) -> tuple[str, ...]:
    if call_op is None and has_opened_event:
        return scopes.EVENT_OPEN
    return scopes.BASE


def route(call: Call) -> c.Json:
    """The two triggers; a button click (`op`) goes to `addon.actions.run`."""
    opened = call.event.opened
    if opened is not None:
        return event_open(call)
    return homepage(call)


def _event_id(call: Call) -> str:
    event_id = call.event.parameters.get("eventId")
    if not event_id:
        raise MalformedEvent("this action needs an eventId")
    return event_id


# ---------------------------------------------------------------- homepage


def home_card(call: Call) -> c.Json:
    meetings = call.app.store.list_meetings(
        call.user_id,
        start_from=call.now,
        start_before=call.now + timedelta(days=views.HOME_DAYS),
        limit=500,
    )
    return views.home_card(call.view, call.user, meetings)


def homepage(call: Call) -> c.Json:
    return c.push_card(home_card(call))


def refresh_home(call: Call) -> c.Json:
    return c.update_card(home_card(call))


# ---------------------------------------------------------------- one meeting


def can_block_time(call: Call) -> bool:
    """Whether the root handed a calendar to write to: Google's, or locally the .ics's."""
    return call.app.block_writer is not None


def meeting_card(call: Call, meeting: Meeting) -> c.Json:
    classification = call.app.classifier.classify(
        meeting, user_domain=call.user.domains, preferences=call.user.preferences
    )
    card = views.event_card(
        call.view,
        meeting,
        classification,
        # Google's Calendar API, or locally the .ics with a block file beside the database.
        can_block_time=can_block_time(call),
        carried_over=_carried_over(call, meeting),
        internal_domains=call.app.classifier.internal_domains_for(call.user.domains),
    )
    return action_items.with_section(
        card, call.view, meeting, action_items.items_for(call, meeting)
    )


def _carried_over(call: Call, meeting: Meeting) -> CarryOverNote | None:
    """What the meeting's materials carried over (one small read, only once they are ready)."""
    if not meeting.materials_ref:
        return None
    from functions.materials.carry_over import carry_over_note

    return carry_over_note(call.app.services, call.user_id, meeting)


def synced_calendar_id(call: Call, calendar_id: str | None) -> str:
    """The id the sync files the opened event's calendar under.

    Workspace names a calendar by its real id (`calendar.calendarId`), which for
    the user's own calendar is their address; the sync reads that calendar as
    `primary` and stores its meetings so. Without this mapping an unseen event
    fetched from the sidebar would be stored under the address, and the sync's
    clean-up of `primary` meetings would never see it. Only the verified
    address counts: the body's calendar id is the caller's to choose.
    """
    from functions.delegation.keys import PRIMARY

    if not calendar_id:
        return PRIMARY
    own = call.who.email.strip().lower()
    if calendar_id.lower() == PRIMARY or (own and calendar_id.strip().lower() == own):
        return PRIMARY
    return calendar_id


def event_open(call: Call) -> c.Json:
    opened = call.event.opened
    assert opened is not None
    if not opened.event_id:
        return c.push_card(views.unsaved_event_card(call.view))
    from functions.delegation.keys import is_delegated_calendar, meeting_key

    calendar_id = synced_calendar_id(call, opened.calendar_id)
    key = meeting_key(call.user, calendar_id, opened.event_id)
    meeting = call.app.store.get_meeting(call.user_id, key)
    if meeting is not None:
        return c.push_card(meeting_card(call, meeting))
    if is_delegated_calendar(call.user, calendar_id):
        # An executive's meeting (assistant mode) comes from the sync of their calendar only.
        return c.push_card(views.not_synced_card(call.view))
    try:
        return c.push_card(_unseen_event(call, calendar_id, opened.event_id))
    except NeedScopes as need:
        return c.request_scopes(need.scopes)


def reopen(call: Call) -> c.Json:
    """ "Try again" after Calendar did not answer: the same lookup, as a button."""
    event_id = _event_id(call)
    meeting = call.app.store.get_meeting(call.user_id, event_id)
    if meeting is not None:
        return c.update_card(meeting_card(call, meeting))
    calendar_id = synced_calendar_id(call, call.event.parameters.get("calendarId"))
    try:
        return c.update_card(_unseen_event(call, calendar_id, event_id))
    except NeedScopes as need:
        return c.request_scopes(need.scopes)


class NeedScopes(Exception):
    """The user has not granted what fetching the event needs; Workspace must ask."""

    def __init__(self, lacking: list[str]) -> None:
        super().__init__("missing scopes")
        self.scopes = lacking


_NOT_AVAILABLE = "Prep covers events on your own calendars; this one is not available to it."


def _unseen_event(call: Call, calendar_id: str, event_id: str) -> c.Json:
    """An event the sync has not stored: fetch it as the user, plan it, keep it; a card."""
    view = call.view
    factory = call.app.calendar_for
    if factory is None:
        return views.not_synced_card(view)
    lacking = scopes.missing(scopes.EVENT_FETCH, call.event.authorized_scopes)
    if lacking:
        raise NeedScopes(lacking)
    token = call.event.user_oauth_token
    if not token:
        return views.message_card(view, "Not available", "Calendar did not share this event.")
    try:
        raw = factory(token).get_event(calendar_id, event_id)
        incoming = meeting_from_event(
            raw, user_id=call.user_id, calendar_id=calendar_id, default_tz=call.user.time_zone
        )
    except (EventNotFound, PermissionDenied):
        return views.message_card(view, "Not available", _NOT_AVAILABLE)
    except UnusableEvent:
        return views.message_card(view, "Not available", "This event has no usable time.")
    except CalendarError as exc:
        log(_log, logging.WARNING, "calendar fetch failed", error=type(exc).__name__)
        retry = view.act("reopen", eventId=event_id, calendarId=calendar_id)
        return views.message_card(
            view, "Calendar did not answer", "Please try again in a moment.", retry=retry
        )
    if incoming.event_id != event_id:
        # The sidebar asked for one event; never file a different one under its id.
        log(_log, logging.WARNING, "calendar answered with another event")
        return views.message_card(view, "Not available", _NOT_AVAILABLE)
    planned = plan_meeting(
        incoming, None, user=call.user, classifier=call.app.classifier, now=call.now
    )
    if not call.user_stored:
        call.save_user(call.user)
    call.app.store.upsert_meetings([planned])
    _schedule_prep(call, planned)
    log(_log, logging.INFO, "unseen event planned", user_id=call.user_id)
    return meeting_card(call, planned)


def _schedule_prep(call: Call, meeting: Meeting) -> None:
    """Queue the trigger-time task if it is due now (named as the sync names it).

    A connected user's calendar is synced in the background, and each sync
    sweeps the triggers that entered its horizon since the last one, so only
    triggers already inside that horizon are queued here. Without background
    sync, or for a calendar the sync does not read (a team calendar opened in
    the sidebar), the sidebar is the only one to queue it: as far ahead as
    Cloud Tasks allows.
    """
    from functions.delegation.keys import PRIMARY

    synced = meeting.calendar_id == PRIMARY or (
        meeting.calendar_id in call.user.preferences.delegated_calendars
    )
    background = call.user.connection is ConnectionState.CONNECTED and synced
    # An hour short of the limit: Cloud Tasks measures it when the call arrives.
    horizon = PREP_HORIZON if background else MAX_SCHEDULE_AHEAD - timedelta(hours=1)
    if not prep_task_due(meeting, call.now, horizon):
        return
    try:
        call.app.tasks.enqueue(prep_task(meeting))
    except Exception as exc:  # the sync schedules it too; the card must not fail for this
        log(_log, logging.WARNING, "prep task not queued", error=type(exc).__name__)


def stored_meeting(call: Call) -> Meeting | None:
    return call.app.store.get_meeting(call.user_id, _event_id(call))


GONE = "That meeting is not in your prep list any more. Open it again from Calendar."


def show_event(call: Call) -> c.Json:
    meeting = stored_meeting(call)
    if meeting is None:
        return c.notify(GONE)
    return c.render([{"pushCard": meeting_card(call, meeting)}])


def refresh_event(call: Call) -> c.Json:
    meeting = stored_meeting(call)
    if meeting is None:
        return c.notify(GONE)
    return c.update_card(meeting_card(call, meeting))


def generate(call: Call) -> c.Json:
    """ "Generate prep" (or "Try again"): nothing new on a meeting that is ready or
    generating within its lease; a generation past its lease is taken over."""
    return _queue(call, regenerate=False)


def regenerate(call: Call) -> c.Json:
    """ "Regenerate": new materials in place of the ones the button was drawn with.

    A second click, or one drawn before another regeneration finished, names
    materials that are no longer current and changes nothing.
    """
    return _queue(call, regenerate=True)


def _queue(call: Call, *, regenerate: bool) -> c.Json:
    meeting = stored_meeting(call)
    if meeting is None:
        return c.notify(GONE)
    if regenerate and call.event.parameters.get("materials", "") != (meeting.materials_ref or ""):
        regenerate = False
    try:
        updated = queue_generation(
            call.app.store,
            call.app.tasks,
            meeting,
            now=call.now,
            lease=call.view.generation_lease,
            regenerate=regenerate,
        )
    except CannotGenerate:
        return c.notify("Prep cannot start for this meeting (it was cancelled or declined).")
    except Exception as exc:  # the queue is remote; the user gets a retryable answer
        log(_log, logging.ERROR, "generation not queued", error=type(exc).__name__)
        return c.notify("Prep could not start just now. Please try again in a minute.")
    if updated.prep_state in DONE_STATES:
        return c.update_card(meeting_card(call, updated), note="Your prep is ready.")
    return c.update_card(
        meeting_card(call, updated), note=f"{views.PREPARING} this takes a minute."
    )


def open_materials(call: Call) -> c.Json:
    meeting = stored_meeting(call)
    if meeting is None:
        return c.notify(GONE)
    if (
        meeting.prep_state not in (PrepState.READY, PrepState.DELIVERED)
        or not meeting.materials_ref
    ):
        return c.notify("The materials are not ready yet.")
    from functions.materials.links import signed_url_for

    url = signed_url_for(call.app.services, meeting)
    return c.render(opens=c.link(url, overlay=False, reload_on_close=False))


# ---------------------------------------------------------------- change type


def set_type(call: Call) -> c.Json:
    meeting = stored_meeting(call)
    if meeting is None:
        return c.notify(GONE)
    chosen = call.event.form_value("meeting_type")
    rules = call.app.classifier.rules
    if not chosen or rules.get(chosen) is None:
        return c.notify("Pick one of the listed meeting types.")
    scope_value = call.event.form_value("type_scope") or OverrideScope.EVENT.value
    try:
        scope = OverrideScope(scope_value)
    except ValueError:
        raise MalformedEvent("type_scope is event or series") from None
    if scope is OverrideScope.SERIES and not meeting.series_id:
        return c.notify("This meeting is not part of a series.")
    record_type_correction(call, meeting, chosen)
    updated = apply_type_override(call, meeting, chosen, scope)
    where = "every meeting in this series" if scope is OverrideScope.SERIES else "this meeting"
    label = rules.label_of(chosen)
    return c.update_card(meeting_card(call, updated), note=f"Type set to {label} for {where}.")


def apply_type_override(call: Call, meeting: Meeting, chosen: str, scope: OverrideScope) -> Meeting:
    """Store the user's type for this meeting or its series and re-plan what it moves.

    Returns the re-planned `meeting`. Also how a "wrong type" answer is applied.
    """
    overrides = dict(call.user.preferences.type_overrides)
    event_key = override_key(OverrideScope.EVENT, meeting.event_id)
    if scope is OverrideScope.SERIES:
        assert meeting.series_id is not None
        overrides[override_key(OverrideScope.SERIES, meeting.series_id)] = chosen
        # The series choice should show on this occurrence too.
        overrides.pop(event_key, None)
    else:
        overrides[event_key] = chosen
    prefs = dataclasses.replace(call.user.preferences, type_overrides=overrides)
    call.save_user(dataclasses.replace(call.user, preferences=prefs))

    affected = [meeting]
    if scope is OverrideScope.SERIES:
        upcoming = call.app.store.list_meetings(
            call.user_id,
            start_from=call.now,
            start_before=call.now + SERIES_HORIZON,
            limit=SERIES_SCAN_LIMIT,
        )
        affected += [
            m
            for m in upcoming
            if m.series_id == meeting.series_id and m.event_id != meeting.event_id
        ]
    replanned = [
        plan_meeting(m, m, user=call.user, classifier=call.app.classifier, now=call.now)
        for m in affected
    ]
    call.app.store.upsert_meetings(replanned)
    for m in replanned:
        _schedule_prep(call, m)  # a new type can mean a new trigger time
    return replanned[0]


# ---------------------------------------------------------------- settings


class SettingsInputError(ValueError):
    """A settings field the user typed is not usable; the message says which."""


class SettingsRefused(ValueError):
    """Every unusable field of one save, by form name, so all are shown at once."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _parse_clock(text: str, label: str) -> time:
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise SettingsInputError(f"{label}: use HH:MM, like 22:00") from None


def _split_keywords(raw: str) -> list[str]:
    """Commas, semicolons or new lines separate keywords; inner spaces are kept."""
    for sep in (";", "\n"):
        raw = raw.replace(sep, ",")
    return [" ".join(part.split()) for part in raw.split(",") if part.strip()]


def _parse_keywords(call: Call, errors: dict[str, str]) -> dict[str, tuple[str, ...]]:
    rules = call.app.classifier.rules
    keywords: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for name in rules.type_names:
        try:
            unique = _type_keywords(call, name, owner)
        except SettingsInputError as exc:
            errors[f"keywords_{name}"] = str(exc)
            continue
        if unique:
            keywords[name] = tuple(unique.values())
    return keywords


def _type_keywords(call: Call, name: str, owner: dict[str, str]) -> dict[str, str]:
    rules = call.app.classifier.rules
    label = rules.label_of(name)
    raw = call.event.form_value(f"keywords_{name}") or ""
    # One spelling per keyword (the first): matching ignores case and width anyway.
    unique: dict[str, str] = {}
    for word in _split_keywords(raw):
        unique.setdefault(normalize_text(word), word)
    if len(unique) > MAX_KEYWORDS_PER_TYPE:
        raise SettingsInputError(f"{label}: at most {MAX_KEYWORDS_PER_TYPE} keywords")
    for folded, word in unique.items():
        if len(word) > MAX_KEYWORD_LENGTH:
            raise SettingsInputError(
                f"{label}: keywords are at most {MAX_KEYWORD_LENGTH} characters"
            )
        if not any(ch.isalnum() for ch in word):
            raise SettingsInputError(f"{label}: a keyword needs a letter or a digit")
        if folded in owner and owner[folded] != name:
            raise SettingsInputError(
                f"\u201c{word}\u201d is listed under both "
                f"{rules.label_of(owner[folded])} and {label}"
            )
    for folded in unique:
        owner.setdefault(folded, name)
    return unique


def _parse_lead_hours(call: Call, errors: dict[str, str]) -> dict[str, float]:
    rules = call.app.classifier.rules
    lead_hours: dict[str, float] = {}
    for name in rules.type_names:
        raw = (call.event.form_value(f"lead_{name}") or "").strip()
        if not raw:
            continue
        label = rules.label_of(name)
        try:
            hours = parse_lead(raw)
        except BadDuration as exc:
            errors[f"lead_{name}"] = f"{label}: {exc}"
            continue
        if not 0 <= hours <= MAX_LEAD_HOURS:
            errors[f"lead_{name}"] = f"{label}: between 0 hours and {format_lead(MAX_LEAD_HOURS)}"
            continue
        rule = rules.get(name)
        if rule is not None and hours != rule.prep_hours_before:
            lead_hours[name] = hours
    return lead_hours


def _parse_quiet(call: Call, errors: dict[str, str]) -> QuietHours | None:
    start_raw = (call.event.form_value("quiet_start") or "").strip()
    end_raw = (call.event.form_value("quiet_end") or "").strip()
    if not (start_raw or end_raw):
        return None
    if not (start_raw and end_raw):
        missing = "quiet_end" if start_raw else "quiet_start"
        errors[missing] = "Quiet hours: fill in both times, or neither"
        return None
    times: list[time] = []
    for name, raw, label in (
        ("quiet_start", start_raw, "Quiet from"),
        ("quiet_end", end_raw, "Quiet until"),
    ):
        try:
            times.append(_parse_clock(raw, label))
        except SettingsInputError as exc:
            errors[name] = str(exc)
    if len(times) < 2:
        return None
    if times[0] == times[1]:
        errors["quiet_end"] = "Quiet hours: start and end must differ"
        return None
    return QuietHours(times[0], times[1])


def _parse_preferences(call: Call) -> Preferences:
    """The preferences the form asks for; `SettingsRefused` lists every bad field."""
    event = call.event
    errors: dict[str, str] = {}
    channels = set(event.form.get("channels", ()))
    lead_hours = _parse_lead_hours(call, errors)
    quiet = _parse_quiet(call, errors)
    current = call.user.preferences
    mode_raw = event.form_value("delivery_mode") or current.delivery_mode.value
    try:
        mode = DeliveryMode(mode_raw)
    except ValueError:
        raise MalformedEvent("delivery_mode is each or digest") from None
    digest_raw = (event.form_value("digest_time") or "").strip()
    digest_at = current.digest_time
    if digest_raw:
        try:
            digest_at = _parse_clock(digest_raw, "Digest time")
        except SettingsInputError as exc:
            errors["digest_time"] = str(exc)
    # Unchecking every box sends no value at all: that keeps the current days.
    days = current.working_days
    if "working_days" in event.form:
        days = parse_working_days(event.form["working_days"]) or current.working_days
    keywords = _parse_keywords(call, errors)
    followup_raw = event.form_value("followup_mode") or current.followup_mode.value
    try:
        followup = FollowupMode(followup_raw)
    except ValueError:
        raise MalformedEvent("followup_mode is chat, email or off") from None
    if errors:
        raise SettingsRefused(errors)
    from addon.context_sources import parse_sources

    return dataclasses.replace(
        current,
        context_sources=parse_sources(event.form),
        email_enabled="email" in channels,
        chat_enabled="chat" in channels,
        lead_hours=lead_hours,
        quiet_hours=quiet,
        delivery_mode=mode,
        digest_time=digest_at,
        type_keywords=keywords,
        working_days=days,
        followup_mode=followup,
    )


def _replan_upcoming(call: Call) -> None:
    """Reclassify and replan stored upcoming meetings, and queue their tasks."""
    upcoming = call.app.store.list_meetings(
        call.user_id,
        start_from=call.now,
        start_before=call.now + SERIES_HORIZON,
        limit=SERIES_SCAN_LIMIT,
    )
    replanned = [
        plan_meeting(m, m, user=call.user, classifier=call.app.classifier, now=call.now)
        for m in upcoming
    ]
    call.app.store.upsert_meetings(replanned)
    for m in replanned:
        _schedule_prep(call, m)


def show_settings(call: Call) -> c.Json:
    from addon.context_sources import waiting_for_consent

    card = views.settings_card(call.view, call.user, waiting=waiting_for_consent(call, call.user))
    return c.render([{"pushCard": card}])


def save_settings(call: Call) -> c.Json:
    try:
        prefs = _parse_preferences(call)
    except SettingsRefused as refused:
        # Everything the user typed stays; each problem shows under its field.
        card = views.settings_card(
            call.view, call.user, typed=call.event.form, errors=refused.errors
        )
        count = len(refused.errors)
        text = str(refused) if count == 1 else f"{count} fields need a fix: {refused}"
        return c.update_card(card, note=text)
    user: User = dataclasses.replace(call.user, preferences=prefs)
    before = call.user.preferences
    # New lead times and working days move trigger times; new keywords can change types.
    lead_changed = (
        prefs.lead_hours != before.lead_hours
        or prefs.type_keywords != before.type_keywords
        or prefs.working_days != before.working_days
        or prefs.quiet_hours != before.quiet_hours
    )
    # Leaving digest mode: reminders the digest would have carried are owed again.
    digest_left = (
        before.delivery_mode is DeliveryMode.DIGEST and prefs.delivery_mode is DeliveryMode.EACH
    )
    if user != call.user or not call.user_stored:
        call.save_user(user)
    if lead_changed or digest_left:
        _replan_upcoming(call)
    if prefs.delivery_mode is DeliveryMode.DIGEST:
        _schedule_digest(call)
    from addon.context_sources import consent_answer, waiting_for_consent

    # A source just turned on asks for its own scope, and only for that (Settings is saved).
    consent = consent_answer(call, prefs.context_sources - before.context_sources)
    if consent is not None:
        return consent
    card = views.settings_card(call.view, call.user, waiting=waiting_for_consent(call, call.user))
    return c.update_card(card, note="Settings saved.")


def _schedule_digest(call: Call) -> None:
    """The next digest's task (named per day and time: re-saving queues nothing new)."""
    from functions.prep.digest_task import ensure_next_digest

    try:
        ensure_next_digest(call.app.tasks, call.user, call.now)
    except Exception as exc:  # the fan-out queues it too; the card must not fail for this
        log(_log, logging.WARNING, "digest task not queued", error=type(exc).__name__)


# ---------------------------------------------------------------- connect and forget


def connect(call: Call) -> c.Json:
    try:
        from functions.oauth.flow import start_authorization
    except ImportError:
        return c.notify("Connecting is not available in this deployment yet.")
    url = start_authorization(call.app.services, call.user_id, call.who.email)
    return c.render(opens=c.link(url, overlay=True, reload_on_close=True))


def confirm_delete(call: Call) -> c.Json:
    return c.render([{"pushCard": views.confirm_delete_card(call.view)}])


def delete_data(call: Call) -> c.Json:
    """Revoke, stop push channels, forget: a failed revoke must not keep the data."""
    try:
        from functions.oauth.flow import disconnect

        disconnect(call.app.services, call.user_id)
    except Exception as exc:  # deletion is what the user asked for; it goes ahead
        log(_log, logging.ERROR, "disconnect failed before deletion", error=type(exc).__name__)
    removed = call.app.store.delete_user_data(call.user_id)
    try:
        removed += call.app.services.materials_storage.delete_user(call.user_id)
    except Exception as exc:  # the bucket's lifecycle rule removes them later regardless
        log(_log, logging.ERROR, "materials not deleted", error=type(exc).__name__)
    log(_log, logging.INFO, "user data deleted", user_id=call.user_id, records=removed)
    fresh = User(
        user_id=call.user_id,
        email=call.who.email,
        time_zone=call.user.time_zone,
        locale=call.user.locale,
    )
    call.user, call.user_stored = fresh, False
    home = views.home_card(call.view, fresh, [])
    return c.render(
        [{"popToRoot": True}, {"updateCard": home}],
        note="Disconnected. Everything stored for you was deleted.",
    )


def back(_: Call) -> c.Json:
    return c.render([{"pop": True}])


def tick_action_item(call: Call) -> c.Json:
    """The Done button: tick the item off under the verified user, redraw the card."""
    params = call.event.parameters
    source, item = params.get("source") or "", params.get("item") or ""
    if not (0 < len(source) <= action_items.MAX_ID and 0 < len(item) <= 16):
        raise MalformedEvent("tick_item needs source and item")
    meeting = stored_meeting(call)
    if meeting is None:
        return c.notify(GONE)
    from functions.followup.answers import tick_item
    from functions.store.port import NotFound

    try:
        tick_item(call.app.store, call.user_id, source, item, call.now)
    except NotFound:
        return c.notify("That action item's meeting is gone.")
    log(_log, logging.INFO, "action item ticked", user_id=call.user_id)
    fresh = call.app.store.get_meeting(call.user_id, meeting.event_id) or meeting
    return c.update_card(meeting_card(call, fresh), note="Done.")
