"""The mail switch end to end: the settings card, consent for gmail.readonly only, then Gmail.

Requests go through the add-on endpoint (signed tokens verified, cards checked
with google-apps-card); the stored grant is refreshed at the fake token
endpoint and the mail is read from the fake Gmail server through the real
client library.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from addon.views import FIELD
from functions.bootstrap import Bootstrap, set_services
from functions.domain.meetings import Attendee, Meeting
from functions.domain.users import ContextSource
from functions.mail.gmail import GmailThreads
from functions.materials.pipeline import prepare
from functions.oauth import scopes as oauth_scopes
from functions.oauth.credentials import Delegation
from tests.delegation.conftest import ASSISTANT, ASSISTANT_ID, DELEGATE_GRANT, NOW, World
from tests.delegation.conftest import world as world  # noqa: PLC0414 - the shared fixture
from tests.delegation.sidebar import sidebar_body, sidebar_client
from tests.support.addon_helpers import Client, button_ops, note, only_card, texts

WITH_MAIL = (*DELEGATE_GRANT, oauth_scopes.GMAIL_READONLY)


@pytest.fixture
def root(world: World) -> Iterator[Bootstrap]:
    """The world's services reading mail from the fake Gmail as production does."""
    settings = world.services.settings
    notify = dataclasses.replace(settings.notify, gmail_api_endpoint=world.google.url)
    services = world.services.replaced(settings=dataclasses.replace(settings, notify=notify))
    world.google.now = NOW
    set_services(services)
    yield services
    set_services(world.services)


def _post(root: Bootstrap, op: str, **kwargs: Any) -> dict[str, Any]:
    client: Client = sidebar_client(root)
    return client.post(sidebar_body(root, ASSISTANT_ID, ASSISTANT, op=op, **kwargs))


def _meeting() -> Meeting:
    start = NOW + timedelta(days=2)
    return Meeting(
        user_id=ASSISTANT_ID,
        event_id="qbr",
        calendar_id="primary",
        title="Acme QBR",
        start=start,
        end=start + timedelta(minutes=60),
        attendees=(
            Attendee(email=ASSISTANT, is_self=True),
            Attendee(email="tom@acme.com", display_name="Tom", organizer=True),
        ),
        organizer_email="tom@acme.com",
        version="v1",
    )


def test_turning_mail_on_asks_for_gmail_readonly_alone_then_reads_gmail(
    world: World, root: Bootstrap
) -> None:
    world.add_user(ASSISTANT_ID, ASSISTANT)
    world.google.add_thread(
        "Renewal pricing",
        ("Tom <tom@acme.com>", ASSISTANT, NOW - timedelta(days=3), "Bring usage by region"),
    )
    assert isinstance(root.mail_threads, GmailThreads)

    card = only_card(_post(root, "settings"))
    assert "Mail threads: Subjects, people and short snippets of your mail" in texts(card)
    assert "Attached documents:" in texts(card)

    saved = _post(root, "save_settings", form={FIELD: ["mail"], "channels": ["email"]})
    link = saved["renderActions"]["action"]["link"]
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link["url"]).query))
    assert query["scope"].split() == ["openid", oauth_scopes.GMAIL_READONLY]
    assert query["include_granted_scopes"] == "true"
    assert (link["openAs"], link["onClose"]) == ("OVERLAY", "RELOAD")
    assert world.user(ASSISTANT_ID).preferences.context_sources == {ContextSource.MAIL}

    # Until consent is given the card says so, and the generation skips mail with a note.
    waiting = only_card(_post(root, "settings"))
    assert "Allow access to mail threads" in texts(waiting)
    assert button_ops(waiting)["Allow"] == {"op": "allow_sources"}
    user = world.user(ASSISTANT_ID)
    skipped = prepare(root, user, _meeting())
    assert skipped.context.mail_threads == ()
    assert skipped.context.source_notes == (
        "mail threads: turned on, but access is not allowed yet (Settings)",
    )
    assert world.google.thread_queries == []

    # Consent given (the callback stores the wider grant): mail is read, bounded.
    stored = root.credentials.load(ASSISTANT_ID)
    assert stored is not None
    root.credentials.save(ASSISTANT_ID, dataclasses.replace(stored, scopes=WITH_MAIL))
    assert "Allow access" not in texts(only_card(_post(root, "settings")))
    used = prepare(root, user, _meeting())
    assert [t.subject for t in used.context.mail_threads] == ["Renewal pricing"]
    assert used.context.source_notes == ()
    assert world.google.thread_queries == [
        "newer_than:14d {from:tom@acme.com to:tom@acme.com cc:tom@acme.com}"
    ]
    assert set(world.google.thread_formats) == {"metadata"}
    assert used.key != skipped.key

    # Off again: saved at once, nothing asked, no more reads.
    off = _post(root, "save_settings", form={"channels": ["email"]})
    assert note(off) == "Settings saved."
    assert world.user(ASSISTANT_ID).preferences.context_sources == frozenset()
    reads = len(world.google.thread_queries)
    again = prepare(root, world.user(ASSISTANT_ID), _meeting())
    assert again.context.source_notes == ("mail threads: not turned on",)
    assert len(world.google.thread_queries) == reads


def test_an_existing_gmail_readonly_grant_needs_no_consent(world: World, root: Bootstrap) -> None:
    world.add_user(ASSISTANT_ID, ASSISTANT, scopes=WITH_MAIL)

    saved = _post(root, "save_settings", form={FIELD: ["mail"], "channels": ["email"]})

    assert note(saved) == "Settings saved."
    assert "link" not in saved["renderActions"]["action"]


def test_a_forged_source_value_turns_nothing_on(world: World, root: Bootstrap) -> None:
    world.add_user(ASSISTANT_ID, ASSISTANT, scopes=WITH_MAIL)

    _post(root, "save_settings", form={FIELD: ["everything", "mail"], "channels": ["email"]})

    assert world.user(ASSISTANT_ID).preferences.context_sources == {ContextSource.MAIL}


def test_with_domain_wide_delegation_the_admin_is_asked(world: World, root: Bootstrap) -> None:
    world.add_user(ASSISTANT_ID, ASSISTANT)
    provider = root.credentials
    # Delegation's scopes are the configured ones (no gmail.readonly): the admin must add it.
    provider.delegation = Delegation(Path("unused-key.json"), DELEGATE_GRANT)

    try:
        saved = _post(root, "save_settings", form={FIELD: ["mail"], "channels": ["email"]})
    finally:
        provider.delegation = None

    assert "ask them to add https://www.googleapis.com/auth/gmail.readonly" in (note(saved) or "")
