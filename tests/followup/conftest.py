"""A root on local files with the real Gmail and Chat clients against the fake Google server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from functions.domain.prep_state import PrepState
from tests.support.factories import NOW, USER_ID, make_meeting
from tests.support.fake_google_apis import fake_google_apis
from tests.support.google_world import World, google_world

#: The meeting ended an hour ago and was prepared: a follow-up is owed.
ENDED = make_meeting(
    start=NOW - timedelta(hours=1, minutes=30),
    prep_trigger_at=NOW - timedelta(days=1),
    prep_state=PrepState.READY,
    materials_ref=f"users/{USER_ID}/m1",
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with fake_google_apis() as fake, google_world(tmp_path, fake, [ENDED]) as w:
        yield w
