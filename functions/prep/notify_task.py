"""The prep task: at a meeting's trigger time, tell the user (or start prep for them).

Cloud Tasks delivers at least once and in no particular order, so this
handler trusts nothing in the task but its identity (user, event, version)
and re-reads the meeting:

- gone, cancelled, declined, or moved (the task's version is not the
  meeting's: the new version has its own task) -> nothing to do;
- already past `scheduled` (notified and delivered, or generating) -> done;
- the user chose a daily digest -> nothing (the digest announces it);
- inside the user's quiet hours -> a new task at the window's end;
- the user auto-preps this meeting type -> queue generation; the "ready"
  message follows when the materials exist (`functions.notify.ready`);
- otherwise move `scheduled -> notified` (compare-and-set on the version)
  and send on each channel under a claim, so no replay sends twice.

The state moves *before* the sends: the compare-and-set lets only one of
two concurrent duplicates through, and a retry after a failed send finds
`notified` and resumes, with the claims skipping what already went out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.domain.meetings import Meeting
from functions.domain.prep_state import InvalidTransition, PrepState
from functions.domain.users import User
from functions.logs import log
from functions.materials.lease import generation_lease
from functions.notify.content import NoticeKind, build_notice
from functions.notify.delivery import Outcome, deliver
from functions.notify.digest import is_digest_user
from functions.notify.quiet_hours import quiet_until
from functions.prep.deps import PrepDeps
from functions.prep.queueing import PREP_PATH, PREP_QUEUE, prep_task, queue_generation
from functions.store.port import Conflict, NotFound, Store
from functions.tasks.endpoint import BadTask, RetryLater, payload_instant
from functions.tasks.port import Task, task_name

_log = logging.getLogger(__name__)

#: Longest id we accept from a task body (Calendar ids are far shorter).
MAX_ID = 1024

Result = dict[str, Any]


@dataclass(frozen=True, slots=True)
class PrepJob:
    user_id: str
    event_id: str
    version: str
    #: Set on a task deferred past quiet hours: it must not act before this.
    not_before: datetime | None = None
    #: The trigger time the task was created for (absent on deferred tasks).
    trigger_at: datetime | None = None

    @classmethod
    def parse(cls, payload: Mapping[str, Any]) -> PrepJob:
        ids = [payload.get(k) for k in ("user_id", "event_id", "version")]
        if not all(isinstance(v, str) and 0 < len(v) <= MAX_ID for v in ids[:2]):
            raise BadTask("user_id and event_id must be non-empty strings")
        if not isinstance(ids[2], str) or len(ids[2]) > MAX_ID:
            raise BadTask("version must be a string")
        return cls(
            str(ids[0]),
            str(ids[1]),
            str(ids[2]),
            payload_instant(payload, "not_before"),
            payload_instant(payload, "trigger_at"),
        )


def deferred_prep_task(job: PrepJob, until: datetime) -> Task:
    """The same job, later. Named after the new time, so it differs from the task that
    deferred it (a task name cannot be reused) yet every replay of that task asks
    for the very same deferred one."""
    return Task(
        queue=PREP_QUEUE,
        name=task_name("prep", job.user_id, job.event_id, job.version, until.isoformat()),
        path=PREP_PATH,
        payload={
            "user_id": job.user_id,
            "event_id": job.event_id,
            "version": job.version,
            "not_before": until.isoformat(),
        },
        schedule_at=until,
    )


def _why_not(meeting: Meeting | None, job: PrepJob, now: datetime) -> str | None:
    """Why this task has nothing to do, or None if it does."""
    if meeting is None:
        return "missing"
    if meeting.version != job.version:
        return "stale"
    if meeting.skip_reason is not None or meeting.prep_state is PrepState.CANCELLED:
        return "skipped"
    if meeting.prep_state not in (PrepState.SCHEDULED, PrepState.NOTIFIED):
        return "already_handled"
    if now >= meeting.start:
        return "too_late"
    return None


def _mark_notified(store: Store, job: PrepJob) -> Meeting | str:
    """scheduled -> notified, only for the version this task is about."""
    try:
        return store.set_prep_state(
            job.user_id, job.event_id, PrepState.NOTIFIED, expected_version=job.version
        )
    except NotFound:
        return "missing"
    except Conflict:
        return "stale"
    except InvalidTransition:
        # A concurrent duplicate moved it first (resume its sends) or the user acted.
        current = store.get_meeting(job.user_id, job.event_id)
        if current is not None and current.prep_state is PrepState.NOTIFIED:
            return current
        return "already_handled"


def _notify(
    services: PrepDeps, user: User, meeting: Meeting, job: PrepJob, *, meeting_was_scheduled: bool
) -> Result:
    label = services.classifier.rules.label_of(meeting.meeting_type)
    notice = build_notice(NoticeKind.PREP_DUE, user, meeting, type_label=label)
    report = deliver(services, user, notice, claim_prefix=f"notify:{job.event_id}:{job.version}")
    if report.needs_retry:
        raise RetryLater("a notification channel failed")
    done_now = {Outcome.SENT, Outcome.UNDELIVERABLE} & set(report.outcomes.values())
    outcome = "notified" if done_now or meeting_was_scheduled else "already_notified"
    return {"outcome": outcome, "channels": report.as_dict()}


def run_prep(services: PrepDeps, job: PrepJob) -> Result:
    store = services.store
    now = services.clock.now()
    if job.not_before is not None and now < job.not_before:
        # Fired early (clock skew): acting now would only defer to this very task's name.
        raise RetryLater("deferred task ran before its time")
    user = store.get_user(job.user_id)
    if user is None:
        return {"outcome": "no_user"}
    meeting = store.get_meeting(job.user_id, job.event_id)
    reason = _why_not(meeting, job, now)
    if reason is not None or meeting is None:
        return {"outcome": reason}
    if (
        job.trigger_at is not None
        and meeting.prep_trigger_at is not None
        and meeting.prep_trigger_at != job.trigger_at
        and meeting.prep_trigger_at > now
    ):
        # The lead time changed after this task was queued: the meeting's own
        # trigger time rules. Make sure its task exists (deduped by name).
        created = services.tasks.enqueue(prep_task(meeting))
        return {"outcome": "rescheduled", "created": created}

    prefs = user.preferences
    if is_digest_user(user) and meeting.meeting_type not in prefs.auto_prep_types:
        # One message a day by the user's choice: the digest lists this meeting
        # and moves its state (functions.notify.digest); no reminder of its own.
        return {"outcome": "in_digest"}
    until = quiet_until(now, prefs.quiet_hours, user.time_zone)
    if until is not None:
        if until >= meeting.start:
            return {"outcome": "quiet_until_start"}
        created = services.tasks.enqueue(deferred_prep_task(job, until))
        return {"outcome": "deferred", "until": until.isoformat(), "created": created}

    if meeting.prep_state is PrepState.SCHEDULED and meeting.meeting_type in prefs.auto_prep_types:
        queue_generation(
            store,
            services.tasks,
            meeting,
            now=now,
            lease=generation_lease(services.settings.materials),
        )
        return {"outcome": "auto_prep"}

    was_scheduled = meeting.prep_state is PrepState.SCHEDULED
    if was_scheduled:
        marked = _mark_notified(services.store, job)
        if isinstance(marked, str):
            return {"outcome": marked}
        meeting = marked
    return _notify(services, user, meeting, job, meeting_was_scheduled=was_scheduled)


def handle_prep_task(services: PrepDeps, payload: Mapping[str, Any]) -> Result:
    """The `/tasks/prep` handler (wrapped by `task_endpoint` for OIDC and retries)."""
    job = PrepJob.parse(payload)
    result = run_prep(services, job)
    log(_log, logging.INFO, "prep task", user_id=job.user_id, outcome=result.get("outcome"))
    return result


def handle_correction_task(services: PrepDeps, payload: Mapping[str, Any]) -> Result:
    """The `/tasks/correct` handler: keep sent messages true (`functions.notify.corrections`)."""
    from urllib.parse import urlsplit

    from functions.notify.corrections import CorrectionJob, Mail, run_correction

    job = CorrectionJob.parse(payload)
    settings = services.settings
    result = run_correction(
        store=services.store,
        notifiers=services.notifiers,
        clock=services.clock,
        rules=services.classifier.rules,
        mail=Mail(
            sender_name=settings.notify.mail_from_name,
            host=urlsplit(settings.public_url).hostname or "localhost",
        ),
        job=job,
        tasks=services.tasks,
    )
    log(_log, logging.INFO, "correction task", user_id=job.user_id, outcome=result.get("outcome"))
    return result
