"""`GET /dev/outbox`: what the embedded default "sent", on one local page.

Local mode only. Everything shown is escaped here, whatever it contains:
an email's text part goes into a <pre>, a card's text is stripped of its
markup and escaped again. An email's HTML part is shown as the recipient
would see it, but never as part of this page: it is cut down to an allowlist
of tags and attributes (`sanitize_email_html`: no script, no style sheet, no
event handler, no form, only http(s) and mailto links, no inline style that
fetches anything), then drawn in an `<iframe sandbox srcdoc>` with its own CSP
that loads nothing (remote images would tell a sender the mail was opened),
so even markup that slipped through cannot run or reach this page.

A card's Generate prep button becomes a form that plays Chat's part locally
(`POST /dev/outbox/click`): it turns the click into the CARD_CLICKED event
Chat would send for the message's recipient and applies the answer
(UPDATE_MESSAGE replaces the card, as in Chat). A card with text inputs (the
follow-up after a meeting) becomes one form whose buttons post what was
typed, as Chat's `formInputs`.
"""

from __future__ import annotations

import email
import email.policy
import html
import json
import logging
import re
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from typing import Any

from flask import Request, Response

from functions.chat.deps import ChatDeps
from functions.chat.endpoint import ChatEvent, handle_event
from functions.logs import log
from functions.notify.deps import NotifyDeps
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
iframe.mail{width:100%;height:22rem;border:1px solid #dadce0;border-radius:4px}
button,a.btn{background:#1a73e8;color:#fff;border:0;border-radius:4px;padding:.4rem .9rem;
text-decoration:none;font-size:.9rem;cursor:pointer;margin-right:.4rem}
.section{border-top:1px solid #dadce0;padding-top:.3rem}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


#: The mail's <body>, kept as a <div> (its style carries the mail's font).
_BODY = "\x00body"  # no parsed tag name can be this
#: Tags kept from an email's HTML part; anything else is dropped (its text kept).
_MAIL_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "u", "s", "p", "br", "div", "span", "ul", "ol", "li",
        "table", "thead", "tbody", "tr", "td", "th", "h1", "h2", "h3", "h4", "hr", "blockquote",
        "pre", "code", "small", "font", _BODY,
    }
)  # fmt: skip
#: Tags dropped with everything inside them.
_MAIL_DROP = frozenset(
    {"script", "style", "head", "title", "template", "noscript", "iframe", "object", "embed",
     "svg", "math", "form", "textarea", "select", "button", "video", "audio"}
)  # fmt: skip
_VOID = frozenset({"br", "hr"})
#: Dropped elements that never have an end tag: dropping one must not swallow what follows.
_VOID_DROP = frozenset({"embed"})
_MAIL_HREF = re.compile(r"(?i)^(?:https?://|mailto:)[^\s\"'<>`]+$")
#: An inline style that could fetch or run something (url(), @import, old IE expressions).
_FETCHING_STYLE = re.compile(r"(?i)url\s*\(|@import|expression\s*\(|\\|behavior\s*:")
#: The HTML part's document: nothing loads (no images, fonts or frames), nothing runs.
MAIL_CSP = "default-src 'none'; style-src 'unsafe-inline'"
#: Largest HTML part drawn; beyond it the text part is what the page shows.
MAX_MAIL_HTML = 256 * 1024


class _MailHtml(HTMLParser):
    """Re-emit an email's HTML with only allowlisted tags and attributes, all re-escaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._dropping = 0
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID_DROP:
            return
        if tag in _MAIL_DROP:
            self._dropping += 1
            return
        if tag == "body":  # its style (the mail's font) lives on in a div
            tag = _BODY
        if self._dropping or tag not in _MAIL_TAGS:
            return
        kept: list[str] = []
        for name, value in attrs:
            if value is None:
                continue
            if name == "href" and tag == "a" and _MAIL_HREF.match(value.strip()):
                kept.append(f'href="{html.escape(value.strip(), quote=True)}"')
            elif name == "style" and not _FETCHING_STYLE.search(value):
                kept.append(f'style="{html.escape(value, quote=True)}"')
            elif name == "color" and tag == "font" and re.fullmatch(r"#?[0-9A-Za-z]{1,20}", value):
                kept.append(f'color="{html.escape(value, quote=True)}"')
        if tag == "a":
            kept += ['target="_blank"', 'rel="noopener noreferrer"']
        name = "div" if tag == _BODY else tag
        self.out.append(f"<{name}{''.join(' ' + a for a in kept)}>")
        if tag not in _VOID:
            self._open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID_DROP:
            return
        if tag in _MAIL_DROP:
            self._dropping = max(self._dropping - 1, 0)
            return
        if tag == "body":
            tag = _BODY
        if self._dropping or tag not in self._open:
            return
        while self._open:  # close what was left open inside it too
            last = self._open.pop()
            self.out.append(f"</{'div' if last == _BODY else last}>")
            if last == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            self.out.append(html.escape(data, quote=False))


def sanitize_email_html(markup: str) -> str:
    """An email's HTML part cut down to harmless markup (see the module docstring)."""
    parser = _MailHtml()
    parser.feed(markup)
    parser.close()
    left_open = ("div" if t == _BODY else t for t in reversed(parser._open))
    return "".join(parser.out) + "".join(f"</{t}>" for t in left_open)


def _mail_frame(markup: str) -> str:
    document = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{MAIL_CSP}">'
        f'<base target="_blank"></head><body>{sanitize_email_html(markup)}</body></html>'
    )
    # No allow-scripts and no allow-same-origin: the frame is an opaque origin that runs
    # nothing; allow-popups lets its links open in a new tab, outside the sandbox.
    return (
        '<iframe class="mail" title="The email as it would look" '
        'sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer" '
        f'srcdoc="{html.escape(document, quote=True)}"></iframe>'
    )


def card_text(markup: str) -> str:
    """A card's formatted text as plain text: line breaks kept, tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", _BR.sub("\n", markup)))


def outbox_of(services: NotifyDeps) -> Outbox | None:
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
    """The card as Chat lays it out: section by section, each button row where it stands.

    Button numbers count across the whole message (`_all_buttons`), which is
    how a click names its button.
    """
    message = entry.chat_message
    out = [f"<p>{_e(message.get('text', ''))}</p>"]
    index = 0
    inputs = _text_inputs(message)
    for item in message.get("cardsV2") or []:
        card = item.get("card", {})
        header = card.get("header") or {}
        out.append(
            f"<p><b>{_e(header.get('title', ''))}</b> · {_e(header.get('subtitle', ''))}</p>"
        )
        for section in card.get("sections") or []:
            out.append('<div class="section">')
            if section.get("header"):
                out.append(f"<p><b>{_e(card_text(str(section['header'])))}</b></p>")
            for widget in section.get("widgets") or []:
                if "textParagraph" in widget:
                    out.append(
                        f"<pre>{_e(card_text(widget['textParagraph'].get('text', '')))}</pre>"
                    )
                elif "decoratedText" in widget:
                    out.append(_render_decorated(widget["decoratedText"]))
                row = [] if inputs else list(_buttons(widget))
                if row:
                    rendered = [_render_button(entry, index + i, b) for i, b in enumerate(row)]
                    index += len(row)
                    out.append("<p>" + "".join(rendered) + "</p>")
            out.append("</div>")
    if inputs:
        # One form for the whole card, so each button posts what was typed.
        out.append(_render_form(entry, inputs, _all_buttons(message)))
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


def _render_decorated(d: Mapping[str, Any]) -> str:
    top, text, bottom = (card_text(str(d.get(k, ""))) for k in ("topLabel", "text", "bottomLabel"))
    lines = [f"{top}: {text}" if top else text, bottom]
    return f"<pre>{_e(chr(10).join(line for line in lines if line))}</pre>"


def _render_email(entry: OutboxEntry) -> str:
    msg = email.message_from_string(entry.body, policy=email.policy.default)
    text_part = msg.get_body(preferencelist=("plain",)) if hasattr(msg, "get_body") else None
    text = text_part.get_content() if text_part is not None else ""
    html_part = msg.get_body(preferencelist=("html",)) if hasattr(msg, "get_body") else None
    markup = html_part.get_content() if html_part is not None else ""
    head = (
        f"<p><b>{_e(msg.get('Subject', ''))}</b></p>"
        f'<p class="meta">To {_e(msg.get("To", ""))} · {_e(msg.get("Date", ""))}</p>'
    )
    if not isinstance(markup, str) or not markup.strip() or len(markup) > MAX_MAIL_HTML:
        return head + f"<pre>{_e(text)}</pre>"
    return (
        head + _mail_frame(markup) + "<details><summary>Plain-text part</summary>"
        f"<pre>{_e(text)}</pre></details>"
    )


def render_outbox(entries: Iterable[OutboxEntry]) -> str:
    items = []
    for entry in entries:
        kind = "Gmail" if entry.channel is Channel.EMAIL else "Google Chat"
        body = _render_email(entry) if entry.channel is Channel.EMAIL else _render_chat(entry)
        updated = (
            f" · updated {_e(entry.updated_at.isoformat())}" if entry.updated_at is not None else ""
        )
        items.append(
            f'<div class="msg"><p class="meta">#{entry.id} · {kind} · to user {_e(entry.user_id)}'
            f" · {_e(entry.created_at.isoformat())}{updated}</p>{body}</div>"
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


def outbox_page(services: NotifyDeps, request: Request) -> Response:
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


def outbox_click(services: ChatDeps, request: Request) -> Response:
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
