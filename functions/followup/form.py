"""`/followup?t=...`: the email's form page, trusted only through its token.

GET shows the form and uses nothing (mail scanners open links on their own);
POST checks the token again, takes its single-use claim, and stores the
answer under the user and meeting the token names, never under anything the
form sends. A refused answer (too many lines) shows the form again with what
was typed and leaves the token unused. The page loads nothing, cannot be
framed, posts only to itself, and escapes everything it shows (the meeting's
title is other people's text, and so is a typed answer shown back).
"""

from __future__ import annotations

import html
import logging
from datetime import datetime

from flask import Request, Response

from functions.domain.followups import BadAnswer, parse_answers, proposed_lines
from functions.domain.meetings import Meeting
from functions.followup.answers import AlreadyAnswered, record_answer
from functions.followup.proposals import Proposals, no_proposals
from functions.followup.token import FormTokenRejected, open_token
from functions.logs import log
from functions.oauth.pages import page
from functions.oauth.sealing import Keyring
from functions.store.port import NotFound, Store

_log = logging.getLogger(__name__)

#: Longer input than any answer can keep is refused before it is parsed.
MAX_FIELD = 20_000


def _invalid() -> Response:
    return page(
        400,
        "This link does not work",
        "It has expired or was already used. Open the meeting in Google Calendar: "
        "the Meeting prep panel shows its action items.",
    )


def _done(message: str) -> Response:
    return page(200, "Thank you", message)


def _form(
    token: str,
    meeting: Meeting,
    *,
    decisions: str = "",
    items: str = "",
    problem: str = "",
) -> Response:
    e = html.escape
    warn = f'<p role="alert"><b>{e(problem)}</b></p>' if problem else ""
    body = (
        f"<p><b>{e(' '.join(meeting.title.split()) or '(no title)')}</b></p>{warn}"
        '<form method="post">'
        f'<input type="hidden" name="t" value="{e(token, quote=True)}">'
        "<p><label>Decisions (one per line)<br>"
        f'<textarea name="decisions" rows="5" cols="50">{e(decisions)}</textarea></label></p>'
        "<p><label>Action items (one per line, like: Sam: send the deck)<br>"
        f'<textarea name="action_items" rows="6" cols="50">{e(items)}</textarea></label></p>'
        '<p><button type="submit" name="choice" value="save">Save</button>'
        '<button type="submit" name="choice" value="nothing">Nothing to record</button></p>'
        "</form>"
    )
    return page(
        200,
        "After the meeting",
        "What was decided, and who does what next?",
        body_html=body,
        form_action="'self'",
    )


def form_page(
    request: Request,
    *,
    store: Store,
    keyring: Keyring,
    now: datetime,
    proposals: Proposals = no_proposals,
) -> Response:
    if request.method not in ("GET", "POST"):
        return page(405, "Not allowed", "This address only takes the follow-up form.")
    raw = request.args.get("t", "") if request.method == "GET" else request.form.get("t", "")
    try:
        grant = open_token(keyring, raw, now)
    except FormTokenRejected as exc:
        log(_log, logging.WARNING, "followup form refused", reason=exc.reason)
        return _invalid()
    meeting = store.get_meeting(grant.user_id, grant.event_id)
    if meeting is None:
        return _invalid()
    if meeting.followup is not None and meeting.followup.answered:
        return _done("This meeting's outcomes are already recorded.")
    if request.method == "GET":
        user = store.get_user(grant.user_id)
        proposed = proposals(user, meeting) if user is not None else ()
        return _form(raw, meeting, items=proposed_lines(proposed))

    decisions = request.form.get("decisions", "")
    items = request.form.get("action_items", "")
    if len(decisions) > MAX_FIELD or len(items) > MAX_FIELD:
        return _form(raw, meeting, problem="That is more than a follow-up can hold.")
    try:
        answer = parse_answers(
            decisions, items, nothing_to_record=request.form.get("choice") == "nothing", at=now
        )
    except BadAnswer as exc:
        return _form(raw, meeting, decisions=decisions, items=items, problem=str(exc))
    if not store.claim(grant.user_id, grant.claim_key):
        return _done("This meeting's outcomes are already recorded.")
    try:
        record_answer(store, grant.user_id, grant.event_id, answer)
    except AlreadyAnswered:
        return _done("This meeting's outcomes are already recorded.")
    except NotFound:
        return _invalid()
    except BaseException:
        store.release_claim(grant.user_id, grant.claim_key)
        raise
    log(_log, logging.INFO, "followup answered", user_id=grant.user_id, via="form")
    if answer.nothing_to_record:
        return _done("Noted: nothing to record.")
    return _done(
        "Saved. Open action items will show in the prep for the next meeting with the "
        "same people, and you can tick them off in the Meeting prep panel."
    )
