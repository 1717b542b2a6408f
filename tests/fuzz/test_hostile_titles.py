"""Meeting titles written by strangers, rendered into the sidebar's cards.

Card text accepts a little HTML (<b>, <i>, <font color>, <br>, <a href>), so a
title that reached a card unescaped could restyle it or plant a link. For any
title (markup, script, bidi overrides, zero-width and control characters,
any script), the homepage and the eventOpen card validate with Google's card
schema and every "<" in their text opens one of the tags the app writes itself.
tests/addon/test_event_open.py checks one hostile title; this is the property.
"""

from __future__ import annotations

import re
from datetime import timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.strategies import EDGE_TEXT, fuzz_settings
from tests.support.addon_helpers import calendar_event, seed_meeting, texts
from tests.support.app_harness import ALICE, ALICE_EMAIL, App, assert_sane
from tests.support.factories import NOW

#: The markup the app itself puts into card text.
_OWN_TAGS = re.compile(r'</?b>|</?i>|<br>|<font color="#[0-9a-fA-F]{6}">|</font>')

markup = st.sampled_from(
    (
        "<script>alert(1)</script>",
        '<a href="https://evil.example">click</a>',
        '<b>bold</b><font color="#ff0000">red</font>',
        "</font></b><img src=x onerror=alert(1)>",
        "&lt;already escaped&gt; &amp; <",
        "<<>>",
    )
)
titles = st.one_of(
    markup,
    st.lists(
        st.one_of(
            markup,
            st.sampled_from(
                [
                    t
                    for t in EDGE_TEXT
                    if "\ud800" not in t and "\udfff" not in t and "\ud83d" not in t
                ]
            ),
            st.text(max_size=20),
        ),
        max_size=4,
    ).map("".join),
)


@given(title=titles)
@example(title="<script>alert(1)</script>" * 20)
@fuzz_settings(examples=60)
def test_any_title_renders_as_text(app: App, title: str) -> None:
    user = app.services.store.get_user(ALICE)
    assert user is not None
    meeting = seed_meeting(
        app.services.store,
        user,
        calendar_event("hostile", NOW + timedelta(hours=3), title=title, user_email=ALICE_EMAIL),
        now=NOW,
        classifier=app.services.classifier,
    )
    for body in (app.event_object(meeting=meeting), app.event_object()):
        resp = app.post_json("/addon", body)
        assert_sane(resp, kind="addon")
        assert resp.status_code == 200
        shown = texts(resp.get_json())
        leftover = _OWN_TAGS.sub("", shown)
        assert "<" not in leftover, leftover


#: The tags the shared agenda document is made of (everything else is escaped text).
_AGENDA_TAGS = {
    "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "h1", "p",
    "main", "section", "h2", "table", "thead", "tbody", "tr", "th", "td", "br",
}  # fmt: skip


@given(title=titles, items=st.lists(titles, max_size=4))
@example(title="</title><script>alert(1)</script>", items=["</td></tr><iframe src=//x>"])
@fuzz_settings(examples=60)
def test_any_title_and_agenda_item_stay_text_in_the_shared_agenda(
    title: str, items: list[str]
) -> None:
    """What guests receive ("Share agenda with guests"): only the document's own tags."""
    from functions.materials.model import SharedAgendaItem
    from functions.materials.render import render_shared_agenda

    page = render_shared_agenda(
        title=title,
        start=NOW,
        end=NOW + timedelta(minutes=30),
        time_zone="Europe/Berlin",
        locale="en-US",
        agenda=[SharedAgendaItem(title=t, minutes=5) for t in items],
    )
    tags = set(re.findall(r"</?(!?[A-Za-z][A-Za-z0-9]*)", page))
    assert tags <= _AGENDA_TAGS, tags - _AGENDA_TAGS
