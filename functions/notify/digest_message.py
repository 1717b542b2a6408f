"""The digest as an email and as a Chat message, from the same `Digest`.

Same rules as the single reminders (`email_message`, `chat_message`):
calendar text is hostile, so it never reaches a header unsanitised, is
HTML-escaped in the HTML part and in card widgets, and never appears in the
Chat message's plain `text` (Chat parses that for mentions). Each listed
meeting gets its buttons: Generate prep (Chat) and Open in Calendar (both).
In the Chat card every meeting is a section of its own (title as the
section header, its time, its buttons), so a button always sits with the
meeting it acts on.

A Generate prep button in a digest carries `source=digest`: the Chat
endpoint then answers with a new message for that one meeting instead of
replacing the digest card (which lists the other meetings too).
"""

from __future__ import annotations

import email.policy
import email.utils
import html
from collections.abc import Callable, Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

from functions.domain.meetings import Meeting
from functions.domain.users import User
from functions.notify.chat_message import (
    _esc,
    _link_button,
    _plain,
    card_message,
    generate_button,
)
from functions.notify.content import Notice, NoticeKind, build_notice
from functions.notify.digest import MAX_ITEMS, Digest, DigestItem, Window
from functions.notify.email_message import _button, _safe_url, header_text, text_url

Json = dict[str, Any]

#: The parameter that tells the Chat endpoint a click came from a digest.
SOURCE_KEY = "source"
SOURCE_DIGEST = "digest"

_FOOTER = "Meeting prep digest. Change how reminders arrive in the Meeting prep panel's settings."
_HOW = (
    "To get ready, open a meeting in Google Calendar and choose Generate prep in the "
    "Meeting prep panel (or use the buttons in Google Chat)."
)


def build_digest(
    user: User,
    win: Window,
    meetings: Sequence[Meeting],
    *,
    label_of: Callable[[str], str],
) -> Digest:
    """The digest of `win` for `user`, listing `meetings` (already selected, earliest first)."""
    from functions.timefmt import TimeFormat

    fmt = TimeFormat.for_user(user.time_zone, user.locale)
    shown = meetings[:MAX_ITEMS]
    items = [
        DigestItem(
            notice=build_notice(NoticeKind.PREP_DUE, user, m, type_label=label_of(m.meeting_type)),
            today=m.start < win.ends,
        )
        for m in shown
    ]
    return Digest(
        user=user,
        win=win,
        day_label=fmt.day(win.starts),
        items=items,
        more=len(meetings) - len(shown),
    )


def _count(n: int) -> str:
    return "1 meeting" if n == 1 else f"{n} meetings"


def subject_of(digest: Digest) -> str:
    total = len(digest.items) + digest.more
    return header_text(f"Your prep for {digest.day_label}: {_count(total)}")


def _line(notice: Notice) -> str:
    """One item in plain text: when, what, for whom."""
    who = f" (for {notice.owner.name})" if notice.owner is not None else ""
    return f'{notice.when}: {notice.type_label} "{notice.title}"{who}'


def _people(notice: Notice) -> str:
    if not notice.people:
        return ""
    names = ", ".join(notice.people)
    return names + (f" and {notice.more_people} more" if notice.more_people else "")


def _sections(digest: Digest) -> list[tuple[str, list[DigestItem]]]:
    today = [i for i in digest.items if i.today]
    later = [i for i in digest.items if not i.today]
    out: list[tuple[str, list[DigestItem]]] = []
    if today:
        out.append(("Coming up before your next digest", today))
    if later:
        out.append(("Prep starts now for these later meetings", later))
    return out


def text_body(digest: Digest) -> str:
    total = len(digest.items) + digest.more
    lines = [f"{_count(total)} need prep ({digest.day_label}, {digest.items[0].notice.zone})."]
    for heading, items in _sections(digest):
        lines += ["", f"{heading}:"]
        for item in items:
            notice = item.notice
            lines += ["", f"* {_line(notice)}"]
            people = _people(notice)
            if people:
                lines.append(f"  With: {people}")
            calendar = text_url(notice.calendar_url)
            if calendar:
                lines.append(f"  Open in Calendar: {calendar}")
    if digest.more:
        lines += ["", f"...and {digest.more} more in the Meeting prep panel."]
    lines += ["", _HOW, "", "-- ", _FOOTER]
    return "\n".join(lines) + "\n"


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def html_body(digest: Digest) -> str:
    total = len(digest.items) + digest.more
    zone = digest.items[0].notice.zone
    parts = [f"<p><b>{_count(total)}</b> need prep ({_e(digest.day_label)}, {_e(zone)}).</p>"]
    for heading, items in _sections(digest):
        parts.append(f'<h3 style="font-size:15px">{_e(heading)}</h3>')
        for item in items:
            notice = item.notice
            who = f"For <b>{_e(notice.owner.name)}</b>: " if notice.owner is not None else ""
            row = [f"<p>{who}{_e(notice.when)} · {_e(notice.type_label)} <b>{_e(notice.title)}</b>"]
            people = _people(notice)
            if people:
                row.append(f"<br>With: {_e(people)}")
            row.append("</p>")
            calendar = _safe_url(notice.calendar_url)
            if calendar:
                row.append(f"<p>{_button(calendar, 'Open in Calendar')}</p>")
            parts.append("".join(row))
    if digest.more:
        parts.append(f"<p>…and {digest.more} more in the Meeting prep panel.</p>")
    parts.append(f"<p>{_e(_HOW)}</p>")
    parts.append(f'<p style="color:#5f6368;font-size:12px">{_e(_FOOTER)}</p>')
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f'<body style="font-family:Arial,sans-serif">\n{body}\n</body></html>\n'
    )


def build_digest_email(
    digest: Digest, *, sender_name: str, sent_at: datetime, message_id: str
) -> EmailMessage:
    """The digest, from the user's own address to itself; ValueError if it has none."""
    address = digest.user.email.strip()
    if not address or "@" not in address:
        raise ValueError("the user has no email address")
    if not digest.items:
        raise ValueError("an empty digest is never sent")
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = Address(display_name=header_text(sender_name, 80), addr_spec=address)
    msg["To"] = Address(addr_spec=address)
    msg["Subject"] = subject_of(digest)
    msg["Date"] = email.utils.format_datetime(sent_at)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text_body(digest), charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html_body(digest), subtype="html", charset="utf-8", cte="quoted-printable")
    for part in msg.iter_parts():
        del part["MIME-Version"]
    return msg


def _digest_button(notice: Notice) -> Json:
    button = generate_button(notice)
    params = button["onClick"]["action"]["parameters"]
    params.append({"key": SOURCE_KEY, "value": SOURCE_DIGEST})
    return button


def _item_section(item: DigestItem) -> Json:
    """One meeting: its title as the section header, then its time, then its own buttons.

    A section per meeting is what ties each Generate prep button to its meeting:
    Chat draws a line between sections, so no button sits under another title.
    """
    notice = item.notice
    details: Json = {"text": f"{_esc(notice.type_label)} · {_esc(notice.when)}", "wrapText": True}
    if notice.owner is not None:
        # Labels take Chat's simple HTML like the text: escaped, never raw calendar text.
        details["topLabel"] = f"For {_esc(notice.owner.name)}"
    people = _people(notice)
    if people:
        details["bottomLabel"] = f"With: {_esc(people)}"
    buttons = [_digest_button(notice), _link_button("Open in Calendar", notice.calendar_url)]
    return {
        "header": _esc(notice.title),
        "widgets": [{"decoratedText": details}, {"buttonList": {"buttons": buttons}}],
    }


def digest_card(digest: Digest) -> Json:
    sections: list[Json] = []
    for heading, items in _sections(digest):
        sections.append({"widgets": [{"textParagraph": {"text": f"<b>{_esc(heading)}</b>"}}]})
        sections.extend(_item_section(item) for item in items)
    if digest.more:
        sections.append(
            {
                "widgets": [
                    {
                        "textParagraph": {
                            "text": f"…and {digest.more} more in the Meeting prep panel."
                        }
                    }
                ]
            }
        )
    total = len(digest.items) + digest.more
    return {
        "header": {
            "title": "Meeting prep",
            "subtitle": _plain(f"Digest · {digest.day_label} · {_count(total)}"),
        },
        "sections": sections,
    }


def digest_chat_message(digest: Digest) -> Json:
    """spaces.messages.create body: no calendar text in `text`, everything in the card."""
    if not digest.items:
        raise ValueError("an empty digest is never sent")
    total = len(digest.items) + digest.more
    text = f"Your prep digest for {digest.day_label}: {_count(total)} need prep."
    return card_message("prep-digest", digest_card(digest), text)
