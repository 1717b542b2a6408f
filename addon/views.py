"""The sidebar's cards, built from domain objects: no Flask, no store, no Google.

Every function here is pure (same inputs, same card), which is what lets the
tests validate each card against Google's schema and lets the local preview
show exactly what Calendar would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from addon import cards as c
from addon.durations import format_lead
from functions.delegation.keys import owner_of
from functions.domain.classification import Classification, SkipReason, prep_wanted
from functions.domain.followups import FollowupMode
from functions.domain.html_text import description_text
from functions.domain.meeting_types import RuleSet
from functions.domain.meetings import Meeting, ResponseStatus
from functions.domain.prep_state import PENDING_STATES, PrepState
from functions.domain.users import ConnectionState, ContextSource, DeliveryMode, User
from functions.domain.working_days import DAY_NAMES
from functions.materials.sources import SOURCE_EXPLAINED, SOURCE_NAMES
from functions.prep.queueing import DEFAULT_LEASE
from functions.timefmt import TimeFormat

if TYPE_CHECKING:
    from functions.materials.carry_over import CarryOverNote

#: Meetings listed on the homepage; the rest are counted, keeping far below 100 widgets.
HOME_LIST_LIMIT = 40
#: The homepage looks this far ahead.
HOME_DAYS = 7

#: The add-on's name, which Calendar shows above every card (so no card header repeats it).
TITLE = c.ADDON_NAME
PREPARING = "Preparing…"

STATE_LABELS: dict[PrepState, str] = {
    PrepState.NOT_STARTED: "Not scheduled",
    PrepState.SCHEDULED: "Scheduled",
    PrepState.NOTIFIED: "Reminder sent",
    PrepState.GENERATING: PREPARING,
    PrepState.READY: "Ready",
    PrepState.DELIVERED: "Ready (sent to you)",
    PrepState.FAILED: "Failed: try again",
    PrepState.CANCELLED: "No prep needed",
}

#: A generation past its lease (its worker died): shown instead of "Preparing…".
STALLED = "Prep did not finish: try again"

SKIP_LABELS: dict[str, str] = {
    SkipReason.CANCELLED.value: "the event was cancelled",
    SkipReason.DECLINED.value: "you declined it",
    SkipReason.ALL_DAY.value: "it is an all-day event",
}

#: Events that do not look like meetings; the user may still ask for prep.
OPTIONAL_SKIP_LABELS: dict[str, str] = {
    SkipReason.NO_GUESTS.value: "No guests",
    SkipReason.RESOURCES_ONLY.value: "Only rooms are invited",
    SkipReason.FREE.value: "Marked as free",
    SkipReason.OUT_OF_OFFICE.value: "Out of office",
    SkipReason.FOCUS_TIME.value: "Focus time",
    SkipReason.WORKING_LOCATION.value: "Working location",
    SkipReason.NOT_A_MEETING.value: "Not a meeting",
}
PREPARE_ANYWAY = "Prepare anyway"

DECIDED_BY_LABELS: dict[str, str] = {
    "override:event": "Chosen by you for this meeting",
    "override:series": "Chosen by you for the whole series",
    "keyword": "Matched one of your keywords",
    "rule": "Recognised from the title and guests",
    "default": "No rule matched",
}


def type_reason(classification: Classification) -> str:
    """Why the type was chosen, in the rules' own words ("Why: keyword 'QBR'")."""
    reason = classification.reason
    if classification.decided_by == "rule" and reason:
        return f"Why: {reason}"
    if classification.decided_by == "keyword" and reason:
        return f"Matched {reason}"
    return DECIDED_BY_LABELS.get(classification.decided_by, "")


CONNECTION_TEXT: dict[ConnectionState, tuple[str, str]] = {
    ConnectionState.CONNECTED: (
        "Connected",
        "Reminders and prep arrive ahead of your meetings.",
    ),
    ConnectionState.NOT_CONNECTED: (
        "Not connected",
        "Connect so reminders and prep arrive ahead of time, even when Calendar is closed.",
    ),
    ConnectionState.RECONNECT_NEEDED: (
        "Reconnect needed",
        "Google no longer accepts our access (revoked or expired). Reconnect to resume.",
    ),
}

#: Prep states from which "Generate prep" / "Regenerate" may start.
_CAN_GENERATE = frozenset(
    {PrepState.NOT_STARTED, PrepState.SCHEDULED, PrepState.NOTIFIED, PrepState.FAILED}
)
_CAN_REGENERATE = frozenset({PrepState.READY, PrepState.DELIVERED})

WARNING_COLOR = "#b3261e"

#: The one switch for the question after a meeting (functions/followup).
FOLLOWUP_CHOICES = (
    ("In Google Chat", FollowupMode.CHAT),
    ("By email", FollowupMode.EMAIL),
    ("Don't ask", FollowupMode.OFF),
)


@dataclass(frozen=True, slots=True)
class View:
    """What every card needs besides its subject: where buttons post, how times read."""

    url: str
    fmt: TimeFormat
    rules: RuleSet
    now: datetime
    #: Past this, a `generating` meeting is presumed dead and may be retried.
    generation_lease: timedelta = DEFAULT_LEASE

    def act(self, op: str, **params: str) -> c.Json:
        return c.action(self.url, op, params)

    def type_label(self, name: str) -> str:
        return self.rules.label_of(name)


def type_choices(rules: RuleSet) -> list[tuple[str, str]]:
    """(name, label) of every type a user may pick, the configured order, default last."""
    return [(n, rules.label_of(n)) for n in rules.type_names]


def needs_prep(m: Meeting) -> bool:
    return prep_wanted(m)


# ---------------------------------------------------------------- homepage


def home_card(view: View, user: User, meetings: Sequence[Meeting]) -> c.Json:
    label, explanation = CONNECTION_TEXT[user.connection]
    access: list[c.Json] = []
    if user.connection is ConnectionState.CONNECTED:
        access.append(c.decorated(label, top="Background access", bottom=explanation, icon="EMAIL"))
    else:
        verb = "Reconnect" if user.connection is ConnectionState.RECONNECT_NEEDED else "Connect"
        shown = (
            c.colored(label, WARNING_COLOR)
            if user.connection is ConnectionState.RECONNECT_NEEDED
            else label
        )
        access.append(
            c.decorated(
                shown,
                top="Background access",
                bottom=explanation,
                icon="EMAIL",
                side_button=c.button(verb, view.act("connect"), filled=True),
            )
        )
    if user.delivery_problem:
        access.append(
            c.decorated(
                user.delivery_problem,
                top="Delivery problem",
                bottom="Reminders cannot reach you until this is fixed.",
                icon="EMAIL",
            )
        )

    upcoming = [m for m in meetings if needs_prep(m)]
    listed: list[c.Json] = []
    for m in upcoming[:HOME_LIST_LIMIT]:
        listed.append(
            c.decorated(
                m.title or "(no title)",
                top=view.fmt.day_time(m.start),
                bottom=_for_whom(m) + f"{view.type_label(m.meeting_type)} · {_status(view, m)}",
                on_click=view.act("event", eventId=m.event_id),
            )
        )
    if not upcoming:
        listed.append(c.paragraph(f"No meetings need prep in the next {HOME_DAYS} days."))
    elif len(upcoming) > HOME_LIST_LIMIT:
        listed.append(c.paragraph(f"…and {len(upcoming) - HOME_LIST_LIMIT} more."))

    return c.card(
        None,  # Calendar shows the add-on's name above the card
        [
            c.section(access),
            c.section(listed, title=f"Next {HOME_DAYS} days: meetings that need prep"),
        ],
        name="home",
        footer=c.footer(
            c.button("Settings", view.act("settings")),
            c.button("Refresh", view.act("home")),
        ),
    )


def _for_whom(m: Meeting) -> str:
    owner = owner_of(m)
    return f"For {owner.name} · " if owner is not None else ""


# ---------------------------------------------------------------- one meeting


def event_card(
    view: View,
    meeting: Meeting,
    classification: Classification,
    *,
    can_block_time: bool = False,
    carried_over: CarryOverNote | None = None,
    internal_domains: frozenset[str] = frozenset(),
) -> c.Json:
    """One meeting's card. No header: Calendar draws the add-on's name above the card
    and the event itself beside it, so a header would only repeat one of them."""
    fmt = view.fmt
    when = f"{fmt.day_time(meeting.start)} – {fmt.time(meeting.end)}"
    about = [c.decorated(meeting.title or "(no title)", top="Meeting", bottom=when, icon="INVITE")]
    owner = owner_of(meeting)
    if owner is not None:
        # Assistant mode: an executive's meeting, prepared by (and sent to) this user.
        about.append(c.decorated(owner.name, top="Preparing for", icon="MULTIPLE_PEOPLE"))
    # Who is coming and what the invitation says: what the type was chosen from.
    about += _guests(meeting, internal_domains)
    about += _invite(meeting)

    prep: list[c.Json] = [
        c.decorated(
            view.type_label(meeting.meeting_type),
            top="Type",
            bottom=type_reason(classification),
            icon="BOOKMARK",
        ),
    ]
    optional = OPTIONAL_SKIP_LABELS.get(meeting.skip_reason or "")
    if optional is not None and meeting.prep_state is PrepState.NOT_STARTED:
        # Not a meeting by the look of it; the user knows better and may ask.
        prep.append(
            c.decorated(
                f"{optional} \u2014 no prep planned. Prepare anyway?",
                top="Prep status",
                icon="DESCRIPTION",
            )
        )
        if meeting.start > view.now:
            prep.append(
                c.buttons(c.button(PREPARE_ANYWAY, view.act("generate", eventId=meeting.event_id)))
            )
    elif optional is None and (
        meeting.skip_reason is not None or meeting.prep_state is PrepState.CANCELLED
    ):
        why = SKIP_LABELS.get(meeting.skip_reason or "", "the meeting no longer needs it")
        if owner is not None and meeting.skip_reason == SkipReason.DECLINED.value:
            why = f"{owner.name} declined it"
        prep.append(c.decorated("No prep needed", top="Prep status", bottom=f"Because {why}."))
    else:
        prep.append(c.decorated(_status(view, meeting), top="Prep status", icon="DESCRIPTION"))
        if carried_over is not None:
            prep.append(_carried_over(view, carried_over))
        pending = meeting.prep_state in PENDING_STATES
        if pending and meeting.prep_trigger_at is not None and meeting.start > view.now:
            starts = (
                "Now"
                if meeting.prep_trigger_at <= view.now
                else fmt.day_time(meeting.prep_trigger_at)
            )
            prep.append(
                c.decorated(
                    starts,
                    top="Prep starts",
                    bottom=f"Times in {fmt.zone_name(meeting.prep_trigger_at)}",
                    icon="CLOCK",
                )
            )
        actions = _prep_buttons(view, meeting)
        # An executive's meeting (assistant mode) is not on a calendar the user owns.
        if can_block_time and owner is None and meeting.start > view.now:
            actions.append(c.button(BLOCK_TIME, view.act("prep_block", eventId=meeting.event_id)))
        if _can_share_agenda(view, meeting, owner is None):
            actions.append(
                c.button(SHARE_AGENDA, view.act("share_agenda", eventId=meeting.event_id))
            )
        if actions:
            prep.append(c.buttons(*actions))

    sections = [
        c.section(about),
        c.section(prep, title="Prep"),
        c.section(_feedback(view, meeting), title="Feedback"),
        c.section(_type_form(view, meeting, classification), title="Change type"),
    ]
    return c.card(None, sections, name="event")


#: External guests named on the card; the rest are counted.
MAX_NAMED_GUESTS = 5
#: Longest guest name shown (a display name is whatever its owner typed).
MAX_GUEST_NAME = 60
#: Lines of the invitation shown, and the longest of each.
INVITE_LINES = 3
MAX_INVITE_LINE = 120


def _short(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _guests(m: Meeting, internal: frozenset[str]) -> list[c.Json]:
    """How many people are invited (rooms are not people) and who comes from outside."""
    people = [a for a in m.attendees if a.is_human]
    if not people:
        return []
    declined = sum(1 for a in people if a.response_status is ResponseStatus.DECLINED)
    text = f"{len(people)} {'person' if len(people) == 1 else 'people'}"
    if declined:
        text += f" · {declined} declined"
    # Without a known internal domain nobody can be called external (as classification says).
    outside = [a for a in people if internal and a.domain not in internal and not a.is_self]
    bottom = None
    if outside:
        text += f" · {len(outside)} external"
        names = [_short(a.display_name or a.email, MAX_GUEST_NAME) for a in outside]
        shown = ", ".join(names[:MAX_NAMED_GUESTS])
        more = len(names) - MAX_NAMED_GUESTS
        bottom = f"External: {shown}" + (f" and {more} more" if more > 0 else "")
    return [c.decorated(text, top="Guests", bottom=bottom, icon="MULTIPLE_PEOPLE")]


def _invite(m: Meeting) -> list[c.Json]:
    """The invitation's first lines, as text (Calendar's HTML converted, never rendered)."""
    text = description_text(m.description, links=False) if m.description else ""
    lines = [_short(line, MAX_INVITE_LINE) for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    shown = lines[:INVITE_LINES]
    if len(lines) > INVITE_LINES:
        shown[-1] = shown[-1].rstrip("…") + " …"
    markup = c.Html("<br>".join(c.esc(line) for line in shown))
    return [c.decorated(markup, top="Invitation", icon="DESCRIPTION")]


def _can_share_agenda(view: View, meeting: Meeting, own_calendar: bool) -> bool:
    """Ready materials of an upcoming meeting on the user's own calendar, with guests.

    Whether the user may modify the event is Calendar's to say, at the click.
    """
    return (
        own_calendar
        and meeting.start > view.now
        and meeting.prep_state in (PrepState.READY, PrepState.DELIVERED)
        and any(a.is_human and not a.is_self for a in meeting.attendees)
    )


def _carried_over(view: View, note: CarryOverNote) -> c.Json:
    """What the last occurrence left open; the date is the user's own calendar day."""
    counts = [f"{note.still_open} still open"] if note.still_open else []
    if note.resolved:
        counts.append(f"{note.resolved} resolved")
    return c.decorated(
        f"Carried over from {view.fmt.day(note.from_start)}",
        top="Open questions and follow-ups",
        bottom=" · ".join(counts),
        icon="DESCRIPTION",
    )


def _prep_buttons(view: View, m: Meeting) -> list[c.Json]:
    out: list[c.Json] = []
    ids = {"eventId": m.event_id}
    if m.prep_state in _CAN_GENERATE:
        out.append(c.button("Generate prep", view.act("generate", **ids), filled=True))
    elif m.prep_state in _CAN_REGENERATE:
        if m.materials_ref:
            out.append(c.button("Open materials", view.act("materials", **ids), filled=True))
        # Its own action, naming the materials it replaces: a Generate click that
        # lands after prep is ready, or a second Regenerate, changes nothing.
        regen = {**ids, "materials": m.materials_ref or ""}
        out.append(c.button("Regenerate", view.act("regenerate", **regen)))
    elif generation_stalled(view, m):
        out.append(c.button("Try again", view.act("generate", **ids), filled=True))
    elif m.prep_state is PrepState.GENERATING:
        out.append(c.button("Refresh", view.act("refresh", **ids)))
    return out


def _status(view: View, m: Meeting) -> str:
    return STALLED if generation_stalled(view, m) else STATE_LABELS[m.prep_state]


def generation_stalled(view: View, m: Meeting) -> bool:
    """Generating past its lease: the worker died, so the card offers a retry."""
    return m.generation_overdue(view.now, view.generation_lease)


def _type_form(view: View, m: Meeting, classification: Classification) -> list[c.Json]:
    current = m.meeting_type
    widgets = [
        c.selection(
            "meeting_type",
            "Meeting type",
            [(label, name, name == current) for name, label in type_choices(view.rules)],
        )
    ]
    if m.series_id:
        series_chosen = classification.decided_by == "override:series"
        widgets.append(
            c.selection(
                "type_scope",
                "Apply to",
                [
                    ("This meeting only", "event", not series_chosen),
                    ("Every meeting in this series", "series", series_chosen),
                ],
                kind="RADIO_BUTTON",
            )
        )
    widgets.append(c.buttons(c.button("Save type", view.act("set_type", eventId=m.event_id))))
    return widgets


BLOCK_TIME = "Block 30 min to prepare"
SHARE_AGENDA = "Share agenda with guests"


def _feedback(view: View, m: Meeting) -> list[c.Json]:
    """Useful / not useful once there is something to judge.

    A wrong type is corrected in "Change type", the card's one way to change it;
    saving there also counts the rules' mistake (`addon.feedback`).
    """
    if not needs_prep(m) or m.prep_state not in _CAN_REGENERATE:
        return []
    ids = {"eventId": m.event_id}
    return [
        c.decorated("Was this prep useful?", icon="STAR"),
        c.buttons(
            c.button("Useful", view.act("feedback", kind="useful", **ids)),
            c.button("Not useful", view.act("feedback", kind="not_useful", **ids)),
        ),
    ]


def wrong_type_card(view: View, m: Meeting) -> c.Json:
    """Which type the meeting really is; the answer applies to its whole series.

    No card offers it any more ("Change type" is the one way); it answers a
    "Wrong type" button on a card a sidebar still shows from before.
    """
    others = [(n, label) for n, label in type_choices(view.rules) if n != m.meeting_type]
    applies = (
        "Your answer applies to every meeting in this series."
        if m.series_id
        else "Your answer applies to this meeting."
    )
    widgets = [
        c.decorated(
            view.type_label(m.meeting_type),
            top="Prep treats this meeting as",
            bottom=applies,
            icon="BOOKMARK",
        ),
        c.selection(
            "meeting_type",
            "What kind of meeting is it?",
            [(label, name, i == 0) for i, (name, label) in enumerate(others)],
        ),
        c.buttons(
            c.button("Save", view.act("wrong_type", eventId=m.event_id), filled=True),
            c.button("Cancel", view.act("back")),
        ),
    ]
    return c.card("Wrong type", [c.section(widgets)], name="wrong_type")


# ---------------------------------------------------------------- other states


def message_card(view: View, heading: str, text: str, *, retry: c.Json | None = None) -> c.Json:
    """A card that explains why there is nothing else to show (yet)."""
    widgets = [c.decorated(text, top=heading, icon="DESCRIPTION")]
    row = [c.button("Back to overview", view.act("home"))]
    if retry is not None:
        row.insert(0, c.button("Try again", retry, filled=True))
    widgets.append(c.buttons(*row))
    return c.card(None, [c.section(widgets)], name="message")


def not_synced_card(view: View) -> c.Json:
    return message_card(
        view,
        "Not synced yet",
        "This event is not in your local prep list yet. Import or sync your calendar, "
        "then open it again.",
    )


def unsaved_event_card(view: View) -> c.Json:
    return message_card(view, "New event", "Save the event first; its prep shows up here then.")


# ---------------------------------------------------------------- settings


#: What the user typed (form name -> values) when a save is refused, and why.
Form = Mapping[str, Sequence[str]]
SETTINGS_SAVE = "Save settings"


#: The settings switch group naming the context sources (see addon.context_sources).
FIELD = "context_sources"


def _label(source: ContextSource) -> str:
    name = SOURCE_NAMES[source]
    return name[0].upper() + name[1:]


def sources_widgets(
    view_act: c.Json | None,
    user: User,
    *,
    typed: Form | None,
    waiting: Iterable[ContextSource] = (),
) -> list[c.Json]:
    """The switches, each source's one line, and "Allow access" for those waiting for consent."""
    on = user.preferences.context_sources
    # Workspace sends nothing for a switch group with every switch off.
    chosen = set(typed.get(FIELD, ())) if typed is not None else {s.value for s in on}
    widgets: list[c.Json] = [
        c.selection(
            FIELD,
            "Also read, to prepare better",
            [(_label(s), s.value, s.value in chosen) for s in ContextSource],
            kind="SWITCH",
        ),
        c.paragraph("\n".join(f"{_label(s)}: {SOURCE_EXPLAINED[s]}" for s in ContextSource)),
    ]
    pending = [s for s in ContextSource if s in set(waiting)]
    if pending and view_act is not None:
        names = " and ".join(SOURCE_NAMES[s] for s in pending)
        widgets.append(
            c.decorated(
                f"Allow access to {names}",
                bottom=c.colored("Turned on, but not allowed yet", WARNING_COLOR),
                side_button=c.button("Allow", view_act),
            )
        )
    return widgets


def settings_card(
    view: View,
    user: User,
    *,
    typed: Form | None = None,
    errors: Mapping[str, str] | None = None,
    waiting: frozenset[ContextSource] = frozenset(),
) -> c.Json:
    """The settings: often used first, rarely used folded away, Save at the end.

    After a refused save, `typed` keeps every value the user entered and
    `errors` (form name -> message) shows each problem under its own field.
    `waiting`: context sources turned on whose access is not allowed yet.
    """
    prefs = user.preferences
    form = typed or {}
    problems = errors or {}

    def value(name: str, current: str) -> str:
        if name not in form:
            return current
        return form[name][0] if form[name] else ""

    def chosen(name: str, option: str, current: bool) -> bool:
        return option in form[name] if name in form else current

    def switched_on(option: str, current: bool) -> bool:
        # Workspace sends nothing for a switch group with every switch off, and the
        # save reads that as "off": a redrawn card must not turn them back on.
        return option in form.get("channels", ()) if typed is not None else current

    def field(widget: c.Json, name: str) -> list[c.Json]:
        if name not in problems:
            return [widget]
        return [widget, c.paragraph(c.colored(problems[name], WARNING_COLOR))]

    digest = prefs.delivery_mode is DeliveryMode.DIGEST
    reminders = [
        c.selection(
            "channels",
            "Send reminders by",
            [
                ("Email", "email", switched_on("email", prefs.email_enabled)),
                ("Google Chat", "chat", switched_on("chat", prefs.chat_enabled)),
            ],
            kind="SWITCH",
        ),
        c.selection(
            "delivery_mode",
            "How reminders arrive",
            [
                (
                    "One message per meeting",
                    DeliveryMode.EACH.value,
                    chosen("delivery_mode", DeliveryMode.EACH.value, not digest),
                ),
                (
                    "One morning digest",
                    DeliveryMode.DIGEST.value,
                    chosen("delivery_mode", DeliveryMode.DIGEST.value, digest),
                ),
            ],
            kind="RADIO_BUTTON",
        ),
        c.selection(
            "followup_mode",
            "After 1:1s and leadership meetings, ask what was decided",
            [
                (
                    label,
                    mode.value,
                    chosen("followup_mode", mode.value, prefs.followup_mode is mode),
                )
                for label, mode in FOLLOWUP_CHOICES
            ],
            kind="RADIO_BUTTON",
        ),
        *field(
            c.text_input(
                "digest_time",
                "Digest time (HH:MM)",
                value("digest_time", prefs.digest_time.strftime("%H:%M")),
                hint="Your time zone; no digest on days with nothing to prepare",
            ),
            "digest_time",
        ),
    ]
    leads: list[c.Json] = []
    for name, label in type_choices(view.rules):
        rule = view.rules.get(name) or view.rules.default
        hours = prefs.lead_hours.get(name, rule.prep_hours_before)
        leads += field(
            c.text_input(
                f"lead_{name}",
                label,
                value(f"lead_{name}", format_lead(hours)),
                hint=f"Like 2 days or 3 hours (default {format_lead(rule.prep_hours_before)})",
            ),
            f"lead_{name}",
        )
    days = [
        c.selection(
            "working_days",
            "Prep starts on these days",
            [
                (day, str(i), chosen("working_days", str(i), i in prefs.working_days))
                for i, day in enumerate(DAY_NAMES)
            ],
            kind="CHECK_BOX",
        ),
        c.paragraph("Prep due on another day starts on the working day before, same time."),
    ]
    quiet = prefs.quiet_hours
    rarely: list[c.Json] = [
        *field(
            c.text_input(
                "quiet_start",
                "Quiet from (HH:MM)",
                value("quiet_start", quiet.start.strftime("%H:%M") if quiet else ""),
                hint="Nothing is sent during quiet hours; leave both empty for none",
            ),
            "quiet_start",
        ),
        *field(
            c.text_input(
                "quiet_end",
                "Quiet until (HH:MM)",
                value("quiet_end", quiet.end.strftime("%H:%M") if quiet else ""),
            ),
            "quiet_end",
        ),
        c.paragraph(
            "Your keywords: words in a meeting's title that mean this type to you, "
            "separated by commas. They are matched as whole words and win over the "
            "built-in rules."
        ),
    ]
    for name, label in type_choices(view.rules):
        rarely += field(
            c.text_input(
                f"keywords_{name}",
                label,
                value(f"keywords_{name}", ", ".join(prefs.type_keywords.get(name, ()))),
            ),
            f"keywords_{name}",
        )
    data = [
        c.paragraph(
            "Disconnecting revokes background access, stops calendar notifications and "
            "deletes everything stored for you."
        ),
        c.buttons(c.button("Disconnect and delete my data", view.act("confirm_delete"))),
    ]
    return c.card(
        "Settings",
        [
            c.section(reminders, title="Reminders"),
            c.section(leads, title="How early prep starts"),
            c.section(days, title="Working days"),
            c.section(rarely, title="Quiet hours and your keywords", collapsible=not problems),
            c.section(
                sources_widgets(view.act("allow_sources"), user, typed=typed, waiting=waiting),
                title="Context for prep",
            ),
            c.section(_assistant_entry(view, user), title="Assistant mode"),
            c.section(data, title="Your data"),
        ],
        name="settings",
        footer=c.footer(c.button(SETTINGS_SAVE, view.act("save_settings"), filled=True)),
    )


def _assistant_entry(view: View, user: User) -> list[c.Json]:
    """Assistant mode lives on its own card (addon/delegates.py); this is the way in."""
    count = len(user.preferences.delegated_calendars)
    lost = len(user.calendar_problems)
    text = (
        f"Preparing for {count} other calendar{'s' if count != 1 else ''}"
        if count
        else "Prepare meetings on an executive's calendar you manage"
    )
    return [
        c.decorated(
            text,
            bottom=f"{lost} need{'s' if lost == 1 else ''} attention" if lost else None,
            icon="MULTIPLE_PEOPLE",
            side_button=c.button("Open", view.act("delegates")),
        )
    ]


def confirm_delete_card(view: View) -> c.Json:
    widgets = [
        c.paragraph(
            "This revokes background access, stops calendar notifications and deletes your "
            "meetings, preferences and prep materials. It cannot be undone."
        ),
        c.buttons(
            c.button("Delete everything", view.act("delete_data"), filled=True),
            c.button("Cancel", view.act("back")),
        ),
    ]
    return c.card("Delete my data", [c.section(widgets)], name="confirm_delete")
