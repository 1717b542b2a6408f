"""Assistant mode in the sidebar: the calendars a user prepares for, added, checked, removed.

The card lists each executive's calendar with where it stands (synced, no
access any more, permission needed) and takes a new one by address. Adding
proves access with the user's own background grant before anything is
stored (`functions.delegation.manage`); a grant without
`calendar.events.readonly` gets an "Allow access" button that runs the
consent flow for just that scope (incremental consent), so nobody is asked
for it who does not use assistant mode. Every change is to the signed-in
user's own record: an executive's settings are never read or written.
"""

from __future__ import annotations

import logging

from addon import cards as c
from addon.event_object import MalformedEvent
from addon.sidebar import Call
from addon.views import WARNING_COLOR, View
from functions.delegation.access import DELEGATE_SCOPES, Access
from functions.delegation.manage import Change, add_calendar, check_again, remove_calendar
from functions.domain.users import CalendarProblem, User
from functions.logs import log

_log = logging.getLogger(__name__)

TITLE = "Assistant mode"
FIELD = "delegate_calendar"

PROBLEM_TEXT: dict[str, str] = {
    CalendarProblem.NO_ACCESS.value: "No access any more: ask them to share it again",
    CalendarProblem.NEEDS_SCOPE.value: "Allow access so Meeting prep can read it",
}

_INTRO = (
    "Prepare the meetings on a calendar you manage for someone else. Reminders and prep "
    "come to you, marked with whose meeting it is; their own settings are never changed. "
    "They must have shared their calendar with you."
)


def delegates_card(view: View, user: User, *, ask_scope: bool = False, typed: str = "") -> c.Json:
    prefs = user.preferences
    listed: list[c.Json] = []
    for calendar_id in prefs.delegated_calendars:
        problem = user.calendar_problems.get(calendar_id)
        params = {"calendarId": calendar_id}
        remove = c.button("Remove", view.act("remove_delegate", **params))
        if problem is None:
            listed.append(
                c.decorated(
                    calendar_id, top="Preparing for", bottom="Synced", icon="MULTIPLE_PEOPLE"
                )
            )
            listed.append(c.buttons(remove))
            continue
        status = PROBLEM_TEXT.get(problem, "Not synced")
        listed.append(
            c.decorated(
                calendar_id,
                top="Preparing for",
                bottom=c.colored(status, WARNING_COLOR),
                icon="MULTIPLE_PEOPLE",
            )
        )
        listed.append(
            c.buttons(c.button("Check again", view.act("check_delegate", **params)), remove)
        )
    if not listed:
        listed.append(c.paragraph("You do not prepare for anyone else's calendar yet."))

    needs_scope = ask_scope or CalendarProblem.NEEDS_SCOPE.value in user.calendar_problems.values()
    add_row = [c.button("Add calendar", view.act("add_delegate"), filled=True)]
    if needs_scope:
        add_row.append(c.button("Allow access", view.act("allow_delegates")))
    adding = [
        c.text_input(FIELD, "Their email address", typed, hint="The calendar they shared with you"),
        c.buttons(*add_row),
    ]
    return c.card(
        TITLE,
        [
            c.section([c.paragraph(_INTRO)]),
            c.section(listed, title="Calendars you prepare for"),
            c.section(adding, title="Add a calendar"),
            c.section([c.buttons(c.button("Back", view.act("back")))]),
        ],
        name="delegates",
    )


def show_delegates(call: Call) -> c.Json:
    return c.render([{"pushCard": delegates_card(call.view, call.user)}])


def _answer(call: Call, change: Change, *, typed: str = "") -> c.Json:
    call.user = change.user
    call.user_stored = call.user_stored or change.access is Access.OK
    ask = change.access is Access.NEEDS_SCOPE
    failed = change.access is not Access.OK
    card = delegates_card(call.view, call.user, ask_scope=ask, typed=typed if failed else "")
    return c.update_card(card, note=change.message)


def _calendar_param(call: Call) -> str:
    calendar_id = (call.event.parameters.get("calendarId") or "").strip().lower()
    if not calendar_id:
        raise MalformedEvent("this action needs a calendarId")
    return calendar_id


def _ensure_stored(call: Call) -> None:
    if not call.user_stored:
        call.save_user(call.user)


def add_delegate(call: Call) -> c.Json:
    typed = call.event.form_value(FIELD) or ""
    _ensure_stored(call)
    change = add_calendar(call.app.services, call.user, typed)
    return _answer(call, change, typed=typed[:254])


def check_delegate(call: Call) -> c.Json:
    change = check_again(call.app.services, call.user, _calendar_param(call))
    return _answer(call, change)


def remove_delegate(call: Call) -> c.Json:
    change = remove_calendar(call.app.services, call.user, _calendar_param(call))
    call.user = change.user
    return c.update_card(delegates_card(call.view, call.user), note=change.message)


def allow_delegates(call: Call) -> c.Json:
    """Incremental consent: the same offline-access flow, asking for the delegate scope too."""
    services = call.app.services
    if services.credentials.delegation is not None:
        return c.notify(
            "Your administrator grants Meeting prep's access: ask them to add "
            f"{DELEGATE_SCOPES[0]} to its domain-wide delegation."
        )
    from functions.oauth.flow import start_authorization

    url = start_authorization(services, call.user_id, call.who.email, extra_scopes=DELEGATE_SCOPES)
    log(_log, logging.INFO, "delegate consent started", user_id=call.user_id)
    return c.render(opens=c.link(url, overlay=True, reload_on_close=True))
