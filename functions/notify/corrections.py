"""Keep sent messages true: correct them when their meeting moves, is cancelled or declined.

Who notices: the sync (`functions.sync.engine`) sees every change to a
stored meeting. When the facts a message states (`facts_of`: on or off for
the user, and when) changed for a meeting still ahead and a recorded
message about it states other facts, it queues one correction task, named
after the meeting's version and new facts, so a repeated sync of the same
change finds the task already there. It never sends anything itself.

What the task does (`run_correction`), for each recorded `SentMessage` of
the meeting whose facts differ from the stored meeting's *now* (so a late or
repeated task converges on the truth instead of replaying a stale change):

- Chat: the message is patched in place (text and card). A patch is
  idempotent, so retries and concurrent tasks need no claim; a message that
  is gone is left gone. The record then shows the new facts.
- Email: an email cannot be edited, so one short correction is sent only
  when the change matters (`change_matters`: cancelled, or moved by more
  than the meeting's lead time), under a final claim per (email, meeting
  version, new facts) taken before the send, as every email is: a retry or a concurrent task
  never sends it twice. A small move is left alone, and the record keeps
  the start the user was told, so small moves add up against it. Inside
  the user's quiet hours the email waits: the task queues itself again at
  the window's end (named after that instant, with `not_before`; early
  delivery answers 503) and patches only Chat now, which notifies nobody.

A transient failure raises `RetryLater` after the other messages were
handled; what already succeeded is not repeated. A crash between the sync's
write and its enqueue loses that correction (the next sync sees no change);
the window is one call wide.
"""

from __future__ import annotations

import dataclasses
import email.errors
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.domain.clock import Clock
from functions.domain.meeting_types import RuleSet
from functions.domain.meetings import Meeting
from functions.domain.sent_messages import SentMessage, change_matters, facts_of
from functions.domain.users import User
from functions.logs import log
from functions.notify import problems
from functions.notify.content import Notice, NoticeKind, build_notice
from functions.notify.correction_message import build_correction_email, correction_chat_message
from functions.notify.delivery import set_problem, stable_id
from functions.notify.port import (
    Channel,
    Notifiers,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from functions.notify.quiet_hours import quiet_until
from functions.store.port import Store
from functions.tasks.endpoint import BadTask, RetryLater
from functions.tasks.port import Task, TaskQueue, task_name

_log = logging.getLogger(__name__)

CORRECT_PATH = "/tasks/correct"
#: Corrections ride the prep queue: same retry policy, same service account.
CORRECT_QUEUE = "prep"
#: Longest id accepted from a task body (as for the prep task).
MAX_ID = 1024


def needs_correction(old: Meeting, new: Meeting, now: datetime) -> bool:
    """Whether a change the sync wrote could have made a sent message wrong."""
    return facts_of(old) != facts_of(new) and max(old.end, new.end) > now


def correction_task(meeting: Meeting) -> Task:
    facts = facts_of(meeting)
    return Task(
        queue=CORRECT_QUEUE,
        name=task_name("fix", meeting.user_id, meeting.event_id, meeting.version, facts),
        path=CORRECT_PATH,
        payload={"user_id": meeting.user_id, "event_id": meeting.event_id},
    )


def deferred_correction_task(job: CorrectionJob, until: datetime) -> Task:
    """The same correction after quiet hours; named after that instant, so every replay
    of the deferring task asks for this very one."""
    at = until.astimezone(UTC).isoformat()
    return Task(
        queue=CORRECT_QUEUE,
        name=task_name("fix", job.user_id, job.event_id, "after", at),
        path=CORRECT_PATH,
        payload={"user_id": job.user_id, "event_id": job.event_id, "not_before": at},
        schedule_at=until,
    )


@dataclass(frozen=True, slots=True)
class CorrectionJob:
    user_id: str
    event_id: str
    #: Set on a task deferred past quiet hours: it must not send before this.
    not_before: datetime | None = None

    @classmethod
    def parse(cls, payload: Mapping[str, Any]) -> CorrectionJob:
        ids = [payload.get(k) for k in ("user_id", "event_id")]
        if not all(isinstance(v, str) and 0 < len(v) <= MAX_ID for v in ids):
            raise BadTask("user_id and event_id must be non-empty strings")
        raw = payload.get("not_before")
        not_before = None
        if raw is not None:
            try:
                not_before = datetime.fromisoformat(str(raw))
            except ValueError:
                raise BadTask("not_before is not an ISO timestamp") from None
            if not_before.tzinfo is None:
                raise BadTask("not_before must carry a UTC offset")
        return cls(str(ids[0]), str(ids[1]), not_before)


@dataclass(frozen=True, slots=True)
class Mail:
    """What an email correction needs besides the message: who it is from, and our host."""

    sender_name: str
    host: str


def lead_time(rules: RuleSet, user: User, meeting: Meeting) -> timedelta:
    rule = rules.get(meeting.meeting_type) or rules.default
    hours = user.preferences.lead_hours.get(rule.name, rule.prep_hours_before)
    return timedelta(hours=hours)


def _was(user: User, start: datetime) -> str:
    from functions.timefmt import TimeFormat

    return TimeFormat.for_user(user.time_zone, user.locale).day_time(start)


def _correct_chat(
    notifiers: Notifiers, notice: Notice, sent: SentMessage, facts: str, was: str
) -> None:
    """Patch one Chat message; one that is gone has nothing left to correct."""
    message = correction_chat_message(notice, facts, was, sent.shows)
    found = notifiers.chat.update_message(sent.name, message)
    log(_log, logging.INFO, "chat message corrected", user_id=sent.user_id, found=found)


def _correct_email(
    store: Store,
    notifiers: Notifiers,
    *,
    clock: Clock,
    mail: Mail,
    notice: Notice,
    sent: SentMessage,
    facts: str,
    was: str,
) -> bool:
    """Send the one correction of `sent` for `facts` (claimed first, final like any email).

    False when another attempt holds the claim: that one sent it (or gives
    the claim back and retries), and it alone updates the record. The claim
    names the meeting's version too: facts can come back (moved to Thursday,
    back, then to Thursday again), and the third email is owed as much as the
    first, while retries and duplicates of one change share one claim.
    """
    uid = sent.user_id
    key = f"fix:{sent.key}:{notice.meeting.version}:{facts}"
    if not store.claim(uid, key):
        return False
    try:
        message = build_correction_email(
            notice,
            facts,
            was,
            sender_name=mail.sender_name,
            sent_at=clock.now(),
            message_id=f"<{stable_id(uid, key).hex}@{mail.host}>",
            corrects=f"<{stable_id(uid, sent.key).hex}@{mail.host}>",
            before=sent.shows,
        )
    except (ValueError, email.errors.MessageError):
        raise PermanentDeliveryError(
            Channel.EMAIL, problems.EMAIL_NO_ADDRESS, "unusable address"
        ) from None
    try:
        notifiers.email.send(uid, message)
    except TransientDeliveryError:
        store.release_claim(uid, key)
        raise
    except PermanentDeliveryError:
        raise
    except BaseException:
        store.release_claim(uid, key)
        raise
    log(_log, logging.INFO, "email correction sent", user_id=uid, facts=facts.partition(":")[0])
    return True


def run_correction(
    *,
    store: Store,
    notifiers: Notifiers,
    clock: Clock,
    rules: RuleSet,
    mail: Mail,
    job: CorrectionJob,
    tasks: TaskQueue,
) -> dict[str, Any]:
    """Bring every recorded message about the job's meeting in line with it (module doc)."""
    now = clock.now()
    if job.not_before is not None and now < job.not_before:
        raise RetryLater("deferred correction ran before its time")
    user = store.get_user(job.user_id)
    meeting = store.get_meeting(job.user_id, job.event_id)
    if user is None or meeting is None:
        return {"outcome": "missing"}
    facts = facts_of(meeting)
    wrong = [s for s in store.sent_messages(job.user_id, job.event_id) if s.shows != facts]
    if not wrong:
        return {"outcome": "nothing_to_correct"}
    label = rules.label_of(meeting.meeting_type)
    lead = lead_time(rules, user, meeting)
    corrected: dict[str, int] = {"chat": 0, "email": 0}
    retry = False
    quiet = quiet_until(now, user.preferences.quiet_hours, user.time_zone)
    deferred: datetime | None = None
    for sent in wrong:
        try:
            kind = NoticeKind(sent.kind)
        except ValueError:
            kind = NoticeKind.PREP_DUE
        notice = build_notice(kind, user, meeting, type_label=label)
        was = _was(user, sent.start)
        try:
            if sent.channel == Channel.CHAT.value:
                _correct_chat(notifiers, notice, sent, facts, was)
            elif change_matters(sent, meeting, lead):
                if quiet is not None:
                    deferred = quiet  # the email waits for the window's end; its record too
                    continue
                if not _correct_email(
                    store,
                    notifiers,
                    clock=clock,
                    mail=mail,
                    notice=notice,
                    sent=sent,
                    facts=facts,
                    was=was,
                ):
                    continue
            else:
                continue  # a small move: the email stands, and its record keeps its start
        except TransientDeliveryError as exc:
            retry = True
            log(_log, logging.WARNING, "correction failed, will retry", reason=exc.reason)
            continue
        except PermanentDeliveryError as exc:
            set_problem(store, job.user_id, exc.problem)
            log(_log, logging.WARNING, "correction undeliverable", problem=exc.problem)
        else:
            corrected[sent.channel] += 1
        store.put_sent_message(dataclasses.replace(sent, start=meeting.start, shows=facts))
    if deferred is not None:
        tasks.enqueue(deferred_correction_task(job, deferred))
    log(_log, logging.INFO, "corrections", user_id=job.user_id, **corrected)
    if retry:
        raise RetryLater("a correction failed")
    result: dict[str, Any] = {"outcome": "corrected", **corrected}
    if deferred is not None:
        result["email_deferred_until"] = deferred.isoformat()
    return result
