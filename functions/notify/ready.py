"""The "your prep is ready" message: sent once per generated set of materials.

Generation calls `send_ready` when materials exist (after a button click, or
at trigger time for a meeting type the user auto-preps). The claim is keyed
on the materials reference, so a retried generation task does not send it
twice, while "Regenerate" (new materials) does get its own message.
"""

from __future__ import annotations

import contextlib
import logging

from functions.domain.meetings import Meeting
from functions.domain.prep_state import InvalidTransition, PrepState
from functions.domain.users import User
from functions.logs import log
from functions.notify.content import NoticeKind, build_notice
from functions.notify.delivery import Outcome, deliver
from functions.notify.deps import NotifyDeps
from functions.store.port import Conflict, NotFound
from functions.tasks.endpoint import RetryLater

_log = logging.getLogger(__name__)


def send_ready(
    services: NotifyDeps, user: User, meeting: Meeting, *, materials_url: str | None = None
) -> None:
    """Tell the user their prep is ready, on each channel they use, exactly once.

    Raises `RetryLater` if a channel failed transiently (after giving its
    claim back), so the calling task is retried and only that channel is
    re-sent. A ready meeting that reached the user moves to `delivered`.
    """
    if not meeting.materials_ref:
        raise ValueError("a ready message needs materials")
    if meeting.user_id != user.user_id:
        raise ValueError("the meeting belongs to another user")
    if materials_url is None:
        # A stable link on our own service, not a signed URL: the message may be read
        # days after a signed URL would have expired (functions/materials/reader.py).
        from functions.materials.reader import stable_url

        materials_url = stable_url(services.settings, services.keyring, meeting)
    label = services.classifier.rules.label_of(meeting.meeting_type)
    notice = build_notice(
        NoticeKind.PREP_READY, user, meeting, type_label=label, materials_url=materials_url
    )
    report = deliver(
        services, user, notice, claim_prefix=f"ready:{meeting.event_id}:{meeting.materials_ref}"
    )
    if report.needs_retry:
        raise RetryLater("a ready message channel failed")
    reached = {Outcome.SENT, Outcome.ALREADY_SENT} & set(report.outcomes.values())
    if reached and meeting.prep_state is PrepState.READY:
        # Moved on meanwhile (regenerating, rescheduled, deleted): theirs stands.
        with contextlib.suppress(InvalidTransition, Conflict, NotFound):
            services.store.set_prep_state(
                meeting.user_id,
                meeting.event_id,
                PrepState.DELIVERED,
                expected_version=meeting.version,
            )
    log(_log, logging.INFO, "ready message", user_id=user.user_id, channels=report.as_dict())
