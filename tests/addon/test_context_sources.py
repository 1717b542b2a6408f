"""Which context sources wait for Google's consent: only those whose reader needs the grant."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest

from addon.context_sources import consent_answer, waiting_for_consent
from functions.domain.users import ConnectionState, ContextSource, Preferences, User
from functions.materials.settings import MaterialsSettings
from functions.oauth.credentials import StoredGrant

CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"
BOTH_ON = Preferences(context_sources=frozenset({ContextSource.MAIL, ContextSource.DOCUMENTS}))


def _call(documents: str, *, mail_needs_grant: bool) -> Any:
    """The parts of an add-on call the consent check reads, with a grant lacking both scopes."""
    credentials = SimpleNamespace(
        delegation=None, load=lambda user_id: StoredGrant(refresh_token="rt", scopes=(CALENDAR,))
    )
    settings = SimpleNamespace(
        materials=dataclasses.replace(MaterialsSettings(), documents=documents)
    )
    services = SimpleNamespace(
        settings=settings,
        credentials=credentials,
        mail_threads=SimpleNamespace(needs_grant=mail_needs_grant),
    )
    user = User(user_id="u1", email="me@example.com", connection=ConnectionState.CONNECTED)
    return SimpleNamespace(app=SimpleNamespace(services=services), user_id="u1", user=user)


@pytest.mark.parametrize("documents", ["local", "off"])
def test_no_consent_is_asked_for_documents_no_drive_reads(documents: str) -> None:
    """`make run` reads config/documents with the switch alone (README): no drive.readonly
    to ask for, and no "not allowed yet" on the card."""
    call = _call(documents, mail_needs_grant=False)
    user = dataclasses.replace(call.user, preferences=BOTH_ON)
    assert waiting_for_consent(call, user) == frozenset()
    assert consent_answer(call, {ContextSource.DOCUMENTS}) is None


def test_drive_documents_wait_for_drive_readonly() -> None:
    call = _call("drive", mail_needs_grant=True)
    user = dataclasses.replace(call.user, preferences=BOTH_ON)
    assert waiting_for_consent(call, user) == {ContextSource.MAIL, ContextSource.DOCUMENTS}


def test_the_documents_line_names_everything_the_switch_reads() -> None:
    """The switch reads attachments, the last meeting's notes and standing context
    (`documents.gather`): the one line saying "attachments" alone would under-tell it."""
    from functions.materials.sources import SOURCE_EXPLAINED

    line = SOURCE_EXPLAINED[ContextSource.DOCUMENTS]
    for read in ("attachments", "last meeting's notes", "admin's documents"):
        assert read in line
