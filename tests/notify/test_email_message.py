"""The reminder email is well-formed MIME: parsed back, every promise of the builder holds."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from functions.domain.meetings import Attendee, ResponseStatus
from functions.notify.content import Notice, NoticeKind, build_notice, calendar_event_url
from functions.notify.email_message import build_email, header_text
from tests.support.factories import EMAIL, NOW, make_meeting, make_user

HOSTILE = 'Q3 <script>alert("x")</script> & "Überblick"\r\nBcc: victim@evil.example'


def notice(kind: NoticeKind = NoticeKind.PREP_DUE, **user_changes: object) -> Notice:
    meeting = make_meeting(
        title=HOSTILE,
        start=datetime(2026, 3, 17, 14, 0, tzinfo=UTC),
        attendees=(
            Attendee(EMAIL, "Jürgen Müller-Lüdenscheidt", ResponseStatus.ACCEPTED, is_self=True),
            Attendee("zoe@example.com", "Zoë <b>Bold</b>", ResponseStatus.ACCEPTED),
        ),
    )
    user = make_user(**user_changes)
    url = "https://storage.example/prep?sig=a&b=c" if kind is NoticeKind.PREP_READY else None
    return build_notice(kind, user, meeting, type_label="1:1", materials_url=url)


def roundtrip(message: EmailMessage) -> tuple[bytes, EmailMessage]:
    raw = message.as_bytes()
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return raw, parsed


def build(n: Notice) -> EmailMessage:
    return build_email(n, sender_name="Meeting prep", sent_at=NOW, message_id="<id-1@example.com>")


def test_structure_is_multipart_alternative_with_text_then_html() -> None:
    _, parsed = roundtrip(build(notice()))
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part["MIME-Version"] is None  # only the top level carries it
    assert parsed["MIME-Version"] == "1.0"
    assert not parsed.defects and not any(p.defects for p in parts)


def test_wire_format_is_seven_bit_with_crlf_and_short_lines() -> None:
    raw, _ = roundtrip(build(notice()))
    assert max(raw) < 128, "non-ASCII must be encoded, not sent as 8-bit"
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_non_ascii_subject_and_display_name_use_encoded_words() -> None:
    raw, parsed = roundtrip(build(notice()))
    headers = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "=?utf-8?" in headers.split("Subject:", 1)[1].split("\r\nDate:", 1)[0]
    to_header = headers.split("To:", 1)[1].split("\r\nSubject:", 1)[0]
    assert "=?utf-8?" in to_header and "ü" not in to_header
    assert parsed["To"].addresses[0].display_name == "Jürgen Müller-Lüdenscheidt"
    assert parsed["To"].addresses[0].addr_spec == EMAIL
    assert parsed["From"].addresses[0].display_name == "Meeting prep"
    assert parsed["From"].addresses[0].addr_spec == EMAIL
    assert "Überblick" in str(parsed["Subject"])


def test_hostile_title_cannot_inject_headers() -> None:
    _, parsed = roundtrip(build(notice()))
    assert parsed["Bcc"] is None
    assert "\n" not in str(parsed["Subject"]) and "\r" not in str(parsed["Subject"])
    assert set(parsed.keys()) == {
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "Auto-Submitted",
        "MIME-Version",
        "Content-Type",
    }


def test_hostile_title_is_escaped_in_html_and_kept_readable_in_text() -> None:
    _, parsed = roundtrip(build(notice()))
    html_part = parsed.get_body(("html",))
    text_part = parsed.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html = html_part.get_content()
    text = text_part.get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&amp;" in html and "&quot;Überblick&quot;" in html
    assert "Zoë &lt;b&gt;Bold&lt;/b&gt;" in html
    assert '<script>alert("x")</script>' in text  # plain text shows it as written


def test_time_is_in_the_users_zone_and_locale() -> None:
    _, de = roundtrip(build(notice(time_zone="Europe/Berlin", locale="de-DE")))
    de_text = de.get_body(("plain",))
    assert de_text is not None
    # 14:00 UTC is 15:00 CET; German conventions, English words like the sentence around it.
    assert "Tue, 17 Mar, 15:00 (Central European Standard Time)" in de_text.get_content()
    _, us = roundtrip(build(notice(time_zone="America/New_York", locale="en-US")))
    us_text = us.get_body(("plain",))
    assert us_text is not None
    assert "Mar 17" in us_text.get_content() and "10:00" in us_text.get_content()
    assert "AM" in us_text.get_content()  # 14:00 UTC is 10:00 EDT


def test_calendar_link_is_the_events_own_html_link() -> None:
    link = "https://www.google.com/calendar/event?eid=ZXZ0MDAwMSBhbmFAZXhhbXBsZS5jb20"
    n = dataclasses.replace(notice(), meeting=make_meeting(html_link=link))
    url = calendar_event_url(n.meeting)
    assert url == link
    n = build_notice(n.kind, n.user, n.meeting, type_label=n.type_label)
    _, parsed = roundtrip(build(n))
    html_part = parsed.get_body(("html",))
    assert html_part is not None
    assert f'href="{url}"' in html_part.get_content()


def test_ready_message_carries_the_materials_link_escaped() -> None:
    _, parsed = roundtrip(build(notice(NoticeKind.PREP_READY)))
    assert str(parsed["Subject"]).startswith("Your prep is ready:")
    text_part = parsed.get_body(("plain",))
    html_part = parsed.get_body(("html",))
    assert text_part is not None and html_part is not None
    assert "https://storage.example/prep?sig=a&b=c" in text_part.get_content()
    assert 'href="https://storage.example/prep?sig=a&amp;b=c"' in html_part.get_content()


def test_non_web_links_are_dropped() -> None:
    n = notice(NoticeKind.PREP_READY)
    bad = dataclasses.replace(n, materials_url="javascript:x", calendar_url="data:text/html,x")
    _, parsed = roundtrip(build(bad))
    html_part = parsed.get_body(("html",))
    assert html_part is not None
    assert "javascript:" not in html_part.get_content()
    assert "data:" not in html_part.get_content()


def test_a_user_without_an_address_is_refused() -> None:
    with pytest.raises(ValueError, match="no email address"):
        build(notice(email=""))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\r\nb", "a b"),
        ("  tabs\tand\x00nul  ", "tabs and nul"),
        ("line\u2028sep", "line sep"),
        ("x" * 300, "x" * 149 + "…"),
    ],
)
def test_header_text_is_one_bounded_line(raw: str, expected: str) -> None:
    assert header_text(raw) == expected
