"""`POST /chat`: the Chat app's interaction endpoint.

Chat calls it when a user clicks a card button (CARD_CLICKED), writes to the
app, or adds or removes it. Every request is verified (`ChatVerifier`)
before its body is read. The user is the one Chat names in the verified
event; the button's parameters only say *which* meeting, and the meeting is
looked up under that user alone.

A click on Generate prep queues generation (the same `queue_generation` as
the sidebar, so double clicks queue once) and answers UPDATE_MESSAGE with a
card whose button is gone. If queueing fails transiently, the answer is a
new short message and the original card (with its button) stays, so the
user can simply click again. A click on the follow-up card's Save or
"Nothing to record" stores the answer once (`functions.followup.chat`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Request, Response

from functions.auth.id_tokens import TokenRejected, bearer_token
from functions.chat.deps import ChatDeps
from functions.domain.classification import Classifier
from functions.domain.meetings import Meeting
from functions.domain.users import User
from functions.followup.messages import FOLLOWUP_ACTION
from functions.logs import log
from functions.materials.lease import generation_lease
from functions.notify import problems
from functions.notify.chat_message import (
    GENERATE_ACTION,
    Json,
    generating_card,
    prep_ready_card,
    status_card,
)
from functions.notify.content import Notice, NoticeKind, build_notice
from functions.notify.delivery import clear_problem, set_problem
from functions.notify.digest_message import SOURCE_DIGEST, SOURCE_KEY
from functions.notify.port import Channel
from functions.prep.queueing import DONE_STATES, CannotGenerate, queue_generation
from functions.web import json_body, json_error, json_response

_log = logging.getLogger(__name__)

MAX_ID = 1024

WELCOME = (
    "Hi! I'll message you here before meetings that need prep, with a button to "
    "generate it. Choose what gets a reminder in the Meeting prep panel in Google Calendar."
)
HELP = (
    "I send prep reminders before your meetings. Use the Generate prep button on a "
    "reminder, or open the meeting in Google Calendar."
)
UNKNOWN_USER = "Open Meeting prep in Google Calendar once, then your reminders will come here."
TRY_AGAIN = "Prep could not start just now. Please click Generate prep again in a minute."


class BadEvent(ValueError):
    """The body is not a Chat event we can act on."""


@dataclass(frozen=True, slots=True)
class ChatEvent:
    type: str
    #: From the verified event's `user.name` ("users/{id}"); never from parameters.
    user_id: str
    function: str = ""
    parameters: Mapping[str, str] = field(default_factory=dict)
    is_dm: bool = False
    #: A card's text inputs (`common.formInputs`), name -> the first string value.
    form_inputs: Mapping[str, str] = field(default_factory=dict)


def _parameters(body: Mapping[str, Any]) -> dict[str, str]:
    """Button parameters: `common.parameters` (a map), else `action.parameters` (a list)."""
    params: dict[str, str] = {}
    action = body.get("action")
    listed = action.get("parameters") if isinstance(action, Mapping) else None
    if isinstance(listed, list):  # anything else (a number, a map) carries no parameters
        for item in listed:
            if isinstance(item, Mapping) and isinstance(item.get("key"), str):
                params[item["key"]] = str(item.get("value", ""))
    common = body.get("common")
    if isinstance(common, Mapping) and isinstance(common.get("parameters"), Mapping):
        params.update({str(k): str(v) for k, v in common["parameters"].items()})
    return params


def _form_inputs(body: Mapping[str, Any]) -> dict[str, str]:
    """`common.formInputs`: {name: {"stringInputs": {"value": [text, ...]}}}; else nothing."""
    common = body.get("common")
    raw = common.get("formInputs") if isinstance(common, Mapping) else None
    inputs: dict[str, str] = {}
    if not isinstance(raw, Mapping):
        return inputs
    for name, value in raw.items():
        strings = value.get("stringInputs") if isinstance(value, Mapping) else None
        values = strings.get("value") if isinstance(strings, Mapping) else None
        if isinstance(name, str) and isinstance(values, list) and values:
            inputs[name] = str(values[0])
    return inputs


def parse_event(body: Any) -> ChatEvent:
    if not isinstance(body, Mapping):
        raise BadEvent("body must be a JSON object")
    user = body.get("user")
    name = user.get("name") if isinstance(user, Mapping) else None
    if not isinstance(name, str) or not name.startswith("users/") or len(name) > MAX_ID:
        raise BadEvent("event has no user")
    user_id = name.removeprefix("users/")
    if not user_id or "/" in user_id:
        raise BadEvent("event has no user")
    common = body.get("common")
    action = body.get("action")
    function = ""
    if isinstance(common, Mapping) and isinstance(common.get("invokedFunction"), str):
        function = common["invokedFunction"]
    elif isinstance(action, Mapping) and isinstance(action.get("actionMethodName"), str):
        function = action["actionMethodName"]
    space = body.get("space")
    is_dm = isinstance(space, Mapping) and (
        space.get("type") == "DM"
        or space.get("spaceType") == "DIRECT_MESSAGE"
        or space.get("singleUserBotDm") is True
    )
    return ChatEvent(
        type=str(body.get("type", "")),
        user_id=user_id,
        function=function,
        parameters=_parameters(body),
        is_dm=is_dm,
        form_inputs=_form_inputs(body),
    )


def _update(card_id: str, card: Json, text: str) -> Json:
    return {
        "actionResponse": {"type": "UPDATE_MESSAGE"},
        "text": text,
        "cardsV2": [{"cardId": card_id, "card": card}],
    }


def _new_text(text: str) -> Json:
    return {"actionResponse": {"type": "NEW_MESSAGE"}, "text": text}


def _notice(classifier: Classifier, user: User, meeting: Meeting) -> Notice:
    label = classifier.rules.label_of(meeting.meeting_type)
    return build_notice(NoticeKind.PREP_DUE, user, meeting, type_label=label)


def _as_new(reply: Json) -> Json:
    """A digest lists several meetings: answer a click on one with a message of its own
    rather than replacing the digest card (and the other meetings' buttons)."""
    if "cardsV2" in reply or reply.get("actionResponse", {}).get("type") == "UPDATE_MESSAGE":
        return {**reply, "actionResponse": {"type": "NEW_MESSAGE"}}
    return reply


def on_generate(
    services: ChatDeps, user_id: str, event_id: str, *, from_digest: bool = False
) -> Json:
    """The Generate prep button, for the verified `user_id`."""
    reply = _on_generate(services, user_id, event_id)
    return _as_new(reply) if from_digest else reply


def _on_generate(services: ChatDeps, user_id: str, event_id: str) -> Json:
    store = services.store
    user = store.get_user(user_id)
    if user is None:
        return _new_text(UNKNOWN_USER)
    meeting = store.get_meeting(user_id, event_id) if 0 < len(event_id) <= MAX_ID else None
    if meeting is None:
        return _new_text("That meeting is no longer on your calendar.")
    notice = _notice(services.classifier, user, meeting)
    try:
        # The one guard for every Generate button: on a meeting already generating
        # or ready (an old button clicked again) it queues nothing new.
        updated = queue_generation(
            store,
            services.tasks,
            meeting,
            now=services.clock.now(),
            lease=generation_lease(services.settings.materials),
        )
    except CannotGenerate:
        text = "Prep cannot start for this meeting (it was cancelled or declined)."
        return _update("prep-due", status_card(notice, text), text)
    except Exception as exc:  # the queue is remote: keep the button, let the user retry
        log(_log, logging.ERROR, "generation not queued", user_id=user_id, error=type(exc).__name__)
        return _new_text(TRY_AGAIN)
    log(_log, logging.INFO, "chat generate", user_id=user_id, state=updated.prep_state.value)
    if updated.prep_state in DONE_STATES:
        return _update("prep-due", prep_ready_card(notice), "Your prep is ready.")
    return _update(
        "prep-due", generating_card(_notice(services.classifier, user, updated)), "Generating…"
    )


def handle_event(services: ChatDeps, event: ChatEvent) -> Json:
    if event.type == "CARD_CLICKED":
        if event.function == GENERATE_ACTION and event.parameters.get("op") == "generate":
            return on_generate(
                services,
                event.user_id,
                event.parameters.get("event_id", ""),
                from_digest=event.parameters.get(SOURCE_KEY) == SOURCE_DIGEST,
            )
        if event.function == FOLLOWUP_ACTION and event.parameters.get("op") == "followup":
            from functions.followup.chat import on_followup_click

            return on_followup_click(
                store=services.store,
                now=services.clock.now(),
                label_of=services.classifier.rules.label_of,
                user_id=event.user_id,
                parameters=event.parameters,
                inputs=event.form_inputs,
            )
        return _new_text("That button is no longer supported.")
    if event.type == "ADDED_TO_SPACE":
        if event.is_dm:
            clear_problem(services.store, event.user_id, Channel.CHAT)
        return {"text": WELCOME}
    if event.type == "REMOVED_FROM_SPACE":
        if event.is_dm and services.store.get_user(event.user_id) is not None:
            set_problem(services.store, event.user_id, problems.CHAT_APP_REMOVED)
        return {}
    if event.type == "MESSAGE":
        return {"text": HELP}
    return {}


def chat_endpoint(services: ChatDeps, request: Request) -> Response:
    if request.method != "POST":
        return json_error(405, "method_not_allowed", "Chat events are POSTed")
    try:
        services.chat_verifier.verify(bearer_token(request.headers.get("Authorization")))
    except TokenRejected as exc:
        log(_log, logging.WARNING, "chat request rejected", reason=exc.reason)
        return json_error(401, "unauthenticated", "caller is not allowed")
    try:
        event = parse_event(json_body(request))
    except BadEvent as exc:
        log(_log, logging.WARNING, "chat event refused", reason=str(exc))
        return json_error(400, "bad_request", "not a Chat event")
    return json_response(handle_event(services, event))
