"""Issue 17: `/dev/outbox` shows an email as it would look (its HTML part), safely."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import flask
import pytest

from functions.bootstrap import Bootstrap, get_services, set_services
from functions.notify.content import NoticeKind, build_notice
from functions.notify.email_message import build_email
from functions.notify.outbox import OutboxEmailSender
from functions.notify.outbox_page import outbox_of, outbox_page, sanitize_email_html
from functions.web import bound, dispatch
from tests.support.factories import NOW, USER_ID, make_meeting, make_user
from tests.support.roots import make_services

HOSTILE_TITLE = "<img src=x onerror=alert(1)> & <b>bold</b>"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Bootstrap]:
    s = make_services(tmp_path)
    set_services(s)
    yield s
    set_services(None)
    s.store.close()


def _page() -> str:
    app = flask.Flask(__name__)
    with app.test_request_context(
        "/dev/outbox", method="GET", environ_base={"REMOTE_ADDR": "127.0.0.1"}
    ):
        resp = dispatch({"/dev/outbox": bound(outbox_page, get_services())}, flask.request)
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def _send(services: Bootstrap, msg: EmailMessage) -> None:
    outbox = outbox_of(services)
    assert outbox is not None
    OutboxEmailSender(outbox).send(USER_ID, msg)


def _frames(page: str) -> list[tuple[str, str]]:
    """(sandbox, decoded srcdoc) of every iframe on the page."""
    found = re.findall(r'<iframe[^>]*sandbox="([^"]*)"[^>]*srcdoc="([^"]*)"', page)
    return [(sandbox, html.unescape(doc)) for sandbox, doc in found]


def test_an_email_is_shown_through_its_html_part_in_a_sandbox(services: Bootstrap) -> None:
    notice = build_notice(
        NoticeKind.PREP_DUE, make_user(), make_meeting(title=HOSTILE_TITLE), type_label="1:1"
    )
    _send(services, build_email(notice, sender_name="MP", sent_at=NOW, message_id="<a@b>"))
    page = _page()
    [(sandbox, doc)] = _frames(page)
    # Nothing in the frame may run, or reach this page's origin.
    assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
    assert "default-src 'none'" in doc
    # The HTML part as written: bold title, the Generate prep hint, the Calendar link.
    assert "<b>&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;bold&lt;/b&gt;</b>" in doc
    assert "<b>Generate prep</b>" in doc
    # The hostile title never becomes markup, in the frame or on the page around it.
    assert "<img" not in doc and "<img" not in page
    # The text part is still there, folded away.
    assert "<summary>Plain-text part</summary>" in page


def test_hostile_html_in_an_email_is_cut_down(services: Bootstrap) -> None:
    msg = EmailMessage()
    msg["Subject"] = "Hello"
    msg["To"] = "ana@example.com"
    msg.set_content("plain")
    msg.add_alternative(
        '<p onclick="steal()">Hi <script>alert(1)</script><a href="javascript:alert(2)">x</a>'
        '<a href="https://ok.example/p?a=1&amp;b=2">ok</a></p>'
        "<style>body{background:url(https://tracker.example/o.gif)}</style>"
        '<img src="https://tracker.example/pixel.gif">'
        '<div style="background:url(https://tracker.example/bg)">bg</div>'
        '<form action="https://evil.example"><input name=p></form>'
        '<iframe src="https://evil.example"></iframe></p></div>',
        subtype="html",
    )
    _send(services, msg)
    [(_, doc)] = _frames(_page())
    body = doc.split("<body>", 1)[1]
    for bad in ("<script", "onclick", "javascript:", "<style", "<img", "tracker.example",
                "<form", "<input", "<iframe", "evil.example"):  # fmt: skip
        assert bad not in body, bad
    assert '<a href="https://ok.example/p?a=1&amp;b=2" target="_blank"' in body
    assert "Hi " in body and ">bg</div>" in body


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<b>a</b><i>b", "<b>a</b><i>b</i>"),
        ("<p>x<b>y</p>z", "<p>x<b>y</b></p>z"),
        ("</b>stray", "stray"),
        (
            '<a href=" https://x.example ">l</a>',
            '<a href="https://x.example" target="_blank" rel="noopener noreferrer">l</a>',
        ),
        ('<a href="data:text/html,hi">l</a>', '<a target="_blank" rel="noopener noreferrer">l</a>'),
        ('<font color="red" face="x">c</font>', '<font color="red">c</font>'),
        ('<span style="color:red">s</span>', '<span style="color:red">s</span>'),
        ('<span style="x:expression(alert(1))">s</span>', "<span>s</span>"),
        ("<svg><script>alert(1)</script></svg>after", "after"),
        ("&lt;script&gt;", "&lt;script&gt;"),
        ('<body style="font-family:Arial">x</body>', '<div style="font-family:Arial">x</div>'),
        ("<body-div>x</body-div>", "x"),
        # A dropped element that has no end tag (a void one) drops only itself.
        ('<p>a</p><embed src="https://x.example/a.swf"><p>b</p>', "<p>a</p><p>b</p>"),
    ],
)
def test_the_sanitizer_keeps_only_harmless_markup(markup: str, expected: str) -> None:
    assert sanitize_email_html(markup) == expected


def test_an_email_without_an_html_part_shows_its_text(services: Bootstrap) -> None:
    msg = EmailMessage()
    msg["Subject"] = "Only text"
    msg["To"] = "ana@example.com"
    msg.set_content("just <text>")
    _send(services, msg)
    page = _page()
    assert _frames(page) == []
    assert "<pre>just &lt;text&gt;\n</pre>" in page
