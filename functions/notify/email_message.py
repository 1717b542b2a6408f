"""The reminder email: a well-formed MIME message built with the standard library.

multipart/alternative with a plain-text and an HTML part, both UTF-8 and
quoted-printable (7-bit clean, so no relay re-encodes them). Headers go
through `email.policy.SMTP`, which writes non-ASCII subjects and display
names as RFC 2047 encoded-words. Calendar text is hostile: it is stripped of
control characters before it reaches a header (no header injection) and
HTML-escaped before it reaches the HTML part.

Links are labelled buttons in the HTML part. The text part shows a URL only
when a reader could use it as text (`text_url`): a signed URL (hundreds of
characters of credentials that expire) or any very long one is left out and
the line names the labelled button and the Meeting prep panel instead.
"""

from __future__ import annotations

import email.policy
import email.utils
import html
import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage

from functions.notify.content import Notice, NoticeKind

#: Subjects longer than this are cut: mail clients show ~80 characters anyway.
MAX_SUBJECT = 150

_LINK_EXPIRES = "The link asks you to sign in with Google and always opens the newest materials."

#: Longest URL the text part shows; a signed Cloud Storage URL is far longer.
MAX_TEXT_URL = 200
#: Query parameters that make a URL a credential (V4 and V2 signed URLs, tokens).
_SIGNED = re.compile(
    r"[?&](x-goog-signature|x-goog-credential|signature|googleaccessid|token)=", re.I
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")


def header_text(value: str, limit: int = MAX_SUBJECT) -> str:
    """One line of printable text: control characters (CR/LF above all) become spaces."""
    line = _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _safe_url(url: str | None) -> str | None:
    """Only web links go into an href; anything else (javascript:, data:) is dropped."""
    if url and url.startswith(("https://", "http://")):
        return url
    return None


def text_url(url: str | None) -> str | None:
    """`url` if it may appear as text in a message body: a short, unsigned web link."""
    safe = _safe_url(url)
    if safe is None or len(safe) > MAX_TEXT_URL or _SIGNED.search(safe):
        return None
    return safe


#: The text part's stand-in for a link it does not show.
NO_TEXT_LINK = (
    'Open your prep: use the "Open your prep" button in this email, '
    "or the Meeting prep panel in Calendar."
)


def subject_of(notice: Notice) -> str:
    owner = notice.owner
    if notice.kind is NoticeKind.PREP_READY:
        if owner is not None:
            return header_text(f"Prep for {owner.name} is ready: {notice.title}")
        return header_text(f"Your prep is ready: {notice.title}")
    if owner is not None:
        return header_text(f"Coming up for {owner.name}: {notice.title} · {notice.when}")
    return header_text(f"Coming up: {notice.title} · {notice.when}")


def _for_whom(notice: Notice) -> str:
    """Assistant mode: why an assistant gets a reminder for somebody else's meeting."""
    if notice.owner is None:
        return ""
    return f"You prepare {notice.owner.address}'s meetings (assistant mode)."


def _people_line(notice: Notice) -> str:
    if not notice.people:
        return ""
    names = ", ".join(notice.people)
    if notice.more_people:
        names += f" and {notice.more_people} more"
    return names


def text_body(notice: Notice) -> str:
    lines: list[str] = []
    calendar = text_url(notice.calendar_url)
    materials = _safe_url(notice.materials_url)
    shown = text_url(materials)
    owner = notice.owner
    if notice.kind is NoticeKind.PREP_READY:
        whose = f"The prep for {owner.name}'s meeting" if owner else "Your prep for"
        lines.append(f'{whose} "{notice.title}" ({notice.when}, {notice.zone}) is ready.')
        if materials:
            link = f"Open your prep: {shown}" if shown else NO_TEXT_LINK
            lines += ["", link, "", _LINK_EXPIRES]
    else:
        whose = f"{owner.name}'s" if owner else "Your"
        lines.append(
            f'{whose} {notice.type_label} "{notice.title}" starts {notice.when} ({notice.zone}).'
        )
        people = _people_line(notice)
        if people:
            lines += ["", f"With: {people}"]
        lines += [
            "",
            "To get ready, open the event in Google Calendar and choose Generate prep "
            "in the Meeting prep panel (or use the button in Google Chat).",
        ]
    if calendar:
        lines += ["", f"Open in Calendar: {calendar}"]
    if owner is not None:
        lines += ["", _for_whom(notice)]
    lines += ["", "-- ", "Meeting prep. Change reminders in the Meeting prep panel in Calendar."]
    return "\n".join(lines) + "\n"


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _button(url: str, label: str) -> str:
    return (
        f'<a href="{_e(url)}" style="display:inline-block;padding:8px 16px;'
        'background:#1a73e8;color:#ffffff;border-radius:4px;text-decoration:none">'
        f"{_e(label)}</a>"
    )


def html_body(notice: Notice) -> str:
    calendar = _safe_url(notice.calendar_url)
    materials = _safe_url(notice.materials_url)
    parts: list[str] = []
    owner = notice.owner
    if notice.kind is NoticeKind.PREP_READY:
        whose = f"The prep for {_e(owner.name)}'s meeting" if owner else "Your prep for"
        parts.append(
            f"<p>{whose} <b>{_e(notice.title)}</b> "
            f"({_e(notice.when)}, {_e(notice.zone)}) is ready.</p>"
        )
        if materials:
            parts.append(f"<p>{_button(materials, 'Open your prep')}</p>")
            parts.append(f'<p style="color:#5f6368">{_e(_LINK_EXPIRES)}</p>')
    else:
        whose = f"{_e(owner.name)}'s" if owner else "Your"
        parts.append(
            f"<p>{whose} {_e(notice.type_label)} <b>{_e(notice.title)}</b> starts "
            f"{_e(notice.when)} ({_e(notice.zone)}).</p>"
        )
        people = _people_line(notice)
        if people:
            parts.append(f"<p>With: {_e(people)}</p>")
        parts.append(
            "<p>To get ready, open the event in Google Calendar and choose "
            "<b>Generate prep</b> in the Meeting prep panel (or use the button in Google Chat).</p>"
        )
    if calendar:
        parts.append(f'<p><a href="{_e(calendar)}">Open in Calendar</a></p>')
    if owner is not None:
        parts.append(f"<p>{_e(_for_whom(notice))}</p>")
    parts.append(
        '<p style="color:#5f6368;font-size:12px">Meeting prep. '
        "Change reminders in the Meeting prep panel in Calendar.</p>"
    )
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f'<body style="font-family:Arial,sans-serif">\n{body}\n</body></html>\n'
    )


def build_email(
    notice: Notice, *, sender_name: str, sent_at: datetime, message_id: str
) -> EmailMessage:
    """The reminder, from the user's own address to itself.

    Raises ValueError when the user's address is not usable as one.
    """
    address = notice.user.email.strip()
    if not address or "@" not in address:
        raise ValueError("the user has no email address")
    # On an executive's meeting the "self" attendee is the executive, not the reader.
    me = notice.meeting.self_attendee if notice.owner is None else None
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = Address(display_name=header_text(sender_name, 80), addr_spec=address)
    msg["To"] = Address(
        display_name=header_text(me.display_name if me else "", 80), addr_spec=address
    )
    msg["Subject"] = subject_of(notice)
    msg["Date"] = email.utils.format_datetime(sent_at)
    msg["Message-ID"] = message_id
    # RFC 3834: tells auto-responders (vacation replies) not to answer a reminder.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text_body(notice), charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html_body(notice), subtype="html", charset="utf-8", cte="quoted-printable")
    for part in msg.iter_parts():
        # The stdlib stamps every alternative with its own MIME-Version; only the top needs one.
        del part["MIME-Version"]
    return msg
