"""`GET /dev/outbox`: what the embedded default "sent", on one local page.

Local mode only. Everything shown is escaped here, whatever it contains:
an email's text part goes into a <pre>, a card's text is stripped of its
markup and escaped again. A card's Generate prep button becomes a form that
plays Chat's part locally (`POST /dev/outbox/click`): it turns the click
into the CARD_CLICKED event Chat would send for the message's recipient and
applies the answer (UPDATE_MESSAGE replaces the card, as in Chat). A card
with text inputs (the follow-up after a meeting) becomes one form whose
buttons post what was typed, as Chat's `formInputs`.
"""

from __future__ import annotations

import email
import email.policy
import html
import json
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Request, Response

from functions.bootstrap import Bootstrap, get_services
from functions.chat.endpoint import ChatEvent, handle_event
from functions.logs import log
from functions.notify.outbox import Outbox, OutboxChatSender, OutboxEntry
from functions.notify.port import Channel
from functions.web import json_error, local_only

_log = logging.getLogger(__name__)

#: Longest text taken from one of a card's text inputs (Chat allows far less in a message).
MAX_TYPED = 20_000

_TAG = re.compile(r"<[^>]*>")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)

_STYLE = """
body{font-family:Arial,sans-serif;max-width:60rem;margin:2rem auto;color:#202124}
.msg{border:1px solid #dadce0;border-radius:8px;padding:1rem;margin:1rem 0}
.meta{color:#5f6368;font-size:.85rem}
pre{white-space:pre-wrap;font-family:inherit}
button,a.btn{background:#1a73e8;color:#fff;border:0;border-radius:4px;padding:.4rem .9rem;
text-decoration:none;font-size:.9rem;cursor:pointer;margin-right:.4rem}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def card_text(markup: str) -> str:
    """A card's formatted text as plain text: line breaks kept, tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", _BR.sub("\n", markup)))


def outbox_of(services: Bootstrap) -> Outbox | None:
    chat = services.notifiers.chat
    return chat.outbox if isinstance(chat, OutboxChatSender) else None


def _buttons(widget: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    button_list = widget.get("buttonList")
    if isinstance(button_list, Mapping):
        yield from (b for b in button_list.get("buttons") or [] if isinstance(b, Mapping))


def _render_button(entry: OutboxEntry, index: int, button: Mapping[str, Any]) -> str:
    on_click = button.get("onClick") or {}
    label = _e(button.get("text", ""))
    link = on_click.get("openLink", {}).get("url") if isinstance(on_click, Mapping) else None
    if isinstance(link, str) and link.startswith(("https://", "http://")):
        return f'<a class="btn" href="{_e(link)}" rel="noopener noreferrer">{label}</a>'
    return (
        '<form method="post" action="/dev/outbox/click" style="display:inline">'
        f'<input type="hidden" name="entry" value="{entry.id}">'
        f'<input type="hidden" name="button" value="{index}">'
        f"<button>{label}</button></form>"
    )


def _all_buttons(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    for item in message.get("cardsV2") or []:
        for section in item.get("card", {}).get("sections") or []:
            for widget in section.get("widgets") or []:
                found.extend(_buttons(widget))
    return found


def _render_chat(entry: OutboxEntry) -> str:
    message = entry.chat_message
    out = [f"<p>{_e(message.get('text', ''))}</p>"]
    buttons = _all_buttons(message)
    for item in message.get("cardsV2") or []:
        card = item.get("card", {})
        header = card.get("header") or {}
        out.append(
            f"<p><b>{_e(header.get('title', ''))}</b> · {_e(header.get('subtitle', ''))}</p>"
        )
        for section in card.get("sections") or []:
            for widget in section.get("widgets") or []:
                if "textParagraph" in widget:
                    out.append(
                        f"<pre>{_e(card_text(widget['textParagraph'].get('text', '')))}</pre>"
                    )
                elif "decoratedText" in widget:
                    d = widget["decoratedText"]
                    text = card_text(d.get("text", ""))
                    out.append(f"<pre>{_e(d.get('topLabel', ''))}: {_e(text)}</pre>")
    inputs = _text_inputs(message)
    if inputs:
        out.append(_render_form(entry, inputs, buttons))
        return "\n".join(out)
    out.append("<p>" + "".join(_render_button(entry, i, b) for i, b in enumerate(buttons)) + "</p>")
    return "\n".join(out)


def _text_inputs(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        widget["textInput"]
        for item in message.get("cardsV2") or []
        for section in item.get("card", {}).get("sections") or []
        for widget in section.get("widgets") or []
        if isinstance(widget.get("textInput"), Mapping)
    ]


def _render_form(
    entry: OutboxEntry, inputs: list[Mapping[str, Any]], buttons: list[Mapping[str, Any]]
) -> str:
    """A card with text inputs (the follow-up): one form, its buttons post what was typed."""
    fields = "".join(
        f"<p><label>{_e(i.get('label', ''))}<br>"
        f'<textarea name="input:{_e(i.get("name", ""))}" rows="4" cols="60">'
        f"{_e(i.get('value', ''))}</textarea></label></p>"
        for i in inputs
    )
    actions = "".join(
        f'<button name="button" value="{n}">{_e(b.get("text", ""))}</button>'
        for n, b in enumerate(buttons)
        if isinstance((b.get("onClick") or {}).get("action"), Mapping)
    )
    return (
        '<form method="post" action="/dev/outbox/click">'
        f'<input type="hidden" name="entry" value="{entry.id}">{fields}<p>{actions}</p></form>'
    )


def _render_email(entry: OutboxEntry) -> str:
    msg = email.message_from_string(entry.body, policy=email.policy.default)
    text_part = msg.get_body(preferencelist=("plain",)) if hasattr(msg, "get_body") else None
    text = text_part.get_content() if text_part is not None else ""
    return (
        f"<p><b>{_e(msg.get('Subject', ''))}</b></p>"
        f'<p class="meta">To {_e(msg.get("To", ""))} · {_e(msg.get("Date", ""))}</p>'
        f"<pre>{_e(text)}</pre>"
    )


def render_outbox(entries: Iterable[OutboxEntry]) -> str:
    items = []
    for entry in entries:
        kind = "Gmail" if entry.channel is Channel.EMAIL else "Google Chat"
        body = _render_email(entry) if entry.channel is Channel.EMAIL else _render_chat(entry)
        items.append(
            f'<div class="msg"><p class="meta">#{entry.id} · {kind} · to user {_e(entry.user_id)}'
            f" · {_e(entry.created_at.isoformat())}</p>{body}</div>"
        )
    listing = "\n".join(items) or "<p>Nothing sent yet.</p>"
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Outbox · Meeting prep</title>'
        f"<style>{_STYLE}</style></head><body><h1>Outbox</h1>"
        "<p>What Meeting prep sent in local mode (newest first): emails it would send "
        "with Gmail and direct messages it would post in Google Chat.</p>"
        f"{listing}</body></html>"
    )


def _html(body: str, status: int = 200) -> Response:
    return Response(
        body,
        status=status,
        mimetype="text/html",
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "form-action 'self'",
        },
    )


def outbox_page(request: Request) -> Response:
    services = get_services()
    outbox = outbox_of(services) if services.settings.is_local else None
    if outbox is None:
        return json_error(404, "not_found", "no such endpoint")
    refused = local_only(request)  # titles, attendees and signed links: this machine only
    if refused is not None:
        return refused
    if request.method != "GET":
        return json_error(405, "method_not_allowed", "use GET")
    return _html(render_outbox(outbox.entries()))


def _same_origin(request: Request, public_url: str) -> bool:
    """Refuse clicks posted from other sites (the page is local, the browser is not)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")
    return origin.rstrip("/") == public_url.rstrip("/")


def outbox_click(request: Request) -> Response:
    services = get_services()
    outbox = outbox_of(services) if services.settings.is_local else None
    if outbox is None:
        return json_error(404, "not_found", "no such endpoint")
    refused = local_only(request)  # titles, attendees and signed links: this machine only
    if refused is not None:
        return refused
    if request.method != "POST":
        return json_error(405, "method_not_allowed", "use POST")
    if not _same_origin(request, services.settings.public_url):
        return json_error(403, "forbidden", "cross-site request")
    try:
        entry = outbox.get(int(request.form.get("entry", "")))
        index = int(request.form.get("button", ""))
    except (ValueError, OverflowError):  # not a number, or beyond SQLite's integers
        entry = None
        index = -1
    if entry is None or entry.channel is not Channel.CHAT:
        return json_error(404, "not_found", "no such message")
    buttons = _all_buttons(entry.chat_message)
    action = buttons[index].get("onClick", {}).get("action") if 0 <= index < len(buttons) else None
    if not isinstance(action, Mapping):
        return json_error(400, "bad_request", "not an action button")
    params = {
        str(p.get("key")): str(p.get("value", ""))
        for p in action.get("parameters") or []
        if isinstance(p, Mapping)
    }
    # What was typed into the card's text inputs, as Chat sends it (`common.formInputs`).
    inputs = {
        k.removeprefix("input:"): v[:MAX_TYPED]
        for k, v in request.form.items()
        if k.startswith("input:")
    }
    event = ChatEvent(
        type="CARD_CLICKED",
        user_id=entry.user_id,
        function=str(action.get("function", "")),
        parameters=params,
        is_dm=True,
        form_inputs=inputs,
    )
    reply = handle_event(services, event)
    response_type = (reply.get("actionResponse") or {}).get("type")
    message = {k: v for k, v in reply.items() if k != "actionResponse"}
    if response_type == "UPDATE_MESSAGE":
        outbox.replace_body(entry.id, json.dumps(message, ensure_ascii=False, sort_keys=True))
    elif message:
        outbox.add(
            Channel.CHAT,
            entry.user_id,
            str(message.get("text", "")),
            json.dumps(message, ensure_ascii=False, sort_keys=True),
        )
    log(_log, logging.INFO, "local chat click", user_id=entry.user_id, answer=response_type)
    return Response(status=303, headers={"Location": "/dev/outbox"})
