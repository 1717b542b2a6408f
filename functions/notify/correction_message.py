"""What a corrected message says: the Chat card that replaces the wrong one, and the short email.

Same rules as the messages they correct (`chat_message`, `email_message`):
calendar text is hostile, so it is escaped in card widgets and HTML, kept
out of headers unsanitised, and never put in a Chat message's plain `text`;
links have labels and no URL is shown as text.

A moved reminder keeps its Generate prep button, carrying the meeting's new
version (the button of the old version would only answer "this meeting
changed"). A cancelled or declined one loses every button but Open in
Calendar: there is nothing left to prepare.
"""

from __future__ import annotations

import email.policy
import email.utils
import html
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

from functions.domain.sent_messages import CANCELLED, DECLINED
from functions.notify.chat_message import (
    _esc,
    _header,
    _link_button,
    _summary,
    card_message,
    generate_button,
)
from functions.notify.content import Notice, NoticeKind
from functions.notify.email_message import _button, _safe_url, header_text

Json = dict[str, Any]


def change_line(notice: Notice, facts: str, was: str, before: str = "") -> str:
    """One sentence for the change (plain text, no calendar text: safe in Chat's `text`).

    `before` is what the message showed (`facts_of`); `was` the start it gave.
    """
    whose = f"{notice.owner.address}'s" if notice.owner is not None else "your"
    if before in (CANCELLED, DECLINED) and facts not in (CANCELLED, DECLINED):
        return f"Update: {whose} {notice.type_label} is on again, {notice.when}."
    if facts == CANCELLED:
        return f"Update: {whose} {notice.type_label} on {was} was cancelled."
    if facts == DECLINED:
        who = notice.owner.address if notice.owner is not None else "You"
        return f"Update: {who} declined the {notice.type_label} on {was}."
    return f"Update: {whose} {notice.type_label} moved from {was} to {notice.when}."


def correction_chat_message(notice: Notice, facts: str, was: str, before: str = "") -> Json:
    """The body for spaces.messages.patch (`text` and `cardsV2`, as the mask names)."""
    line = change_line(notice, facts, was, before)
    widgets: list[Json] = [_summary(notice), {"textParagraph": {"text": f"<b>{_esc(line)}</b>"}}]
    buttons = [_link_button("Open in Calendar", notice.calendar_url)]
    if facts not in (CANCELLED, DECLINED) and notice.kind is NoticeKind.PREP_DUE:
        buttons.insert(0, generate_button(notice))
    elif facts not in (CANCELLED, DECLINED):
        widgets.append(
            {"textParagraph": {"text": "Your prep stays in the Meeting prep panel in Calendar."}}
        )
    widgets.append({"buttonList": {"buttons": buttons}})
    card_id = "prep-ready" if notice.kind is NoticeKind.PREP_READY else "prep-due"
    card = {"header": _header(notice), "sections": [{"widgets": widgets}]}
    return card_message(card_id, card, line)


def correction_subject(notice: Notice, facts: str, before: str = "") -> str:
    if facts == CANCELLED:
        return header_text(f"Cancelled: {notice.title}")
    if before == CANCELLED:
        return header_text(f"On again: {notice.title} · {notice.when}")
    return header_text(f"Moved: {notice.title} · now {notice.when}")


def _text(notice: Notice, facts: str, was: str, before: str) -> str:
    lines = [f'"{notice.title}": {change_line(notice, facts, was, before)}']
    if facts != CANCELLED:
        lines.append(f"({notice.zone})")
    lines += [
        "",
        "Open the event from Google Calendar to see it; the Meeting prep panel has your prep.",
        "",
        "-- ",
        "Meeting prep. This corrects an earlier reminder.",
    ]
    return "\n".join(lines) + "\n"


def _html(notice: Notice, facts: str, was: str, before: str) -> str:
    e = html.escape
    parts = [f"<p><b>{e(notice.title)}</b>: {e(change_line(notice, facts, was, before))}</p>"]
    if facts != CANCELLED:
        parts.append(f"<p>({e(notice.zone)})</p>")
    calendar = _safe_url(notice.calendar_url)
    if calendar:
        parts.append(f"<p>{_button(calendar, 'Open in Calendar')}</p>")
    parts.append(
        '<p style="color:#5f6368;font-size:12px">Meeting prep. '
        "This corrects an earlier reminder.</p>"
    )
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f'<body style="font-family:Arial,sans-serif">\n{body}\n</body></html>\n'
    )


def build_correction_email(
    notice: Notice,
    facts: str,
    was: str,
    *,
    sender_name: str,
    sent_at: datetime,
    message_id: str,
    corrects: str,
    before: str = "",
) -> EmailMessage:
    """The one short correction, threaded under the email it corrects (`corrects`)."""
    address = notice.user.email.strip()
    if not address or "@" not in address:
        raise ValueError("the user has no email address")
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = Address(display_name=header_text(sender_name, 80), addr_spec=address)
    msg["To"] = Address(addr_spec=address)
    msg["Subject"] = correction_subject(notice, facts, before)
    msg["Date"] = email.utils.format_datetime(sent_at)
    msg["Message-ID"] = message_id
    msg["In-Reply-To"] = corrects
    msg["References"] = corrects
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(_text(notice, facts, was, before), charset="utf-8", cte="quoted-printable")
    msg.add_alternative(
        _html(notice, facts, was, before), subtype="html", charset="utf-8", cte="quoted-printable"
    )
    for part in msg.iter_parts():
        del part["MIME-Version"]
    return msg
