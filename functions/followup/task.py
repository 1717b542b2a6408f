"""`POST /tasks/followup`: ask once, after the meeting, what came out of it.

The task trusts only its identity (user, event, version) and re-reads the
meeting and the user:

| finding | outcome | effect |
| --- | --- | --- |
| user or meeting gone | `no_user` / `missing` | nothing |
| moved (its end is not the task's `at`) | `stale` | nothing: the new version has its task |
| follow-ups off, or a type the user does not follow up | `off` | nothing |
| cancelled or declined | `skipped` | nothing |
| never prepared (no materials) | `not_prepared` | nothing |
| already answered | `answered` | nothing |
| fired before the meeting ended (clock skew) | 503 | the queue retries |
| more than `FOLLOWUP_EXPIRY` after the end | `expired` | nothing |
| inside quiet hours | `deferred` | the same task at the window's end |
| otherwise | `asked` / `already_asked` | one message, on one channel |

Exactly once, as the prep reminder does it (`functions.prep.notify_task`):
the meeting records the question *before* the send (`FollowUp.asked_at` and
its channel, a compare-and-set on the version), so of two concurrent
duplicates both agree on the one channel, and a retry after a failed send
resumes on that channel even if the user switched channels meanwhile. The
send itself goes through `functions.notify.delivery` under the claim
`followup:{event_id}:{channel}`: final for email, leased and confirmed for
Chat (whose `requestId` makes a repeated create harmless), released only on
a transient failure (503: the queue retries that one channel).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.domain.followups import FollowUp, FollowupMode
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.domain.users import User
from functions.followup.messages import chat_question, email_question
from functions.followup.proposals import Proposals, no_proposals
from functions.followup.scheduling import (
    FOLLOWUP_EXPIRY,
    deferred_followup_task,
    followup_at,
    wants_followup,
)
from functions.logs import log
from functions.notify.content import NoticeKind, build_notice
from functions.notify.delivery import DeliveryReport, Outcome, Outgoing
from functions.notify.quiet_hours import quiet_until
from functions.store.port import Conflict, NotFound, Store
from functions.tasks.endpoint import BadTask, RetryLater, payload_instant
from functions.tasks.port import TaskQueue

FORM_PATH = "/followup"

_log = logging.getLogger(__name__)

MAX_ID = 1024
#: Only meetings that were prepared get the question: their materials exist.
PREPARED = frozenset({PrepState.READY, PrepState.DELIVERED})

Result = dict[str, Any]
#: (the message, claim prefix) -> what each channel did (functions.notify.delivery).
Deliver = Callable[[Outgoing, str], DeliveryReport]
#: (user id, event id) -> the form page's URL with a fresh signed token.
FormUrl = Callable[[str, str], str]


@dataclass(frozen=True, slots=True)
class FollowupJob:
    user_id: str
    event_id: str
    version: str
    not_before: datetime | None = None
    #: The follow-up time (`followup_at`) the task was made for; None in older tasks,
    #: which then go by the version alone.
    at: datetime | None = None

    @classmethod
    def parse(cls, payload: Mapping[str, Any]) -> FollowupJob:
        uid, eid, version = (payload.get(k) for k in ("user_id", "event_id", "version"))
        if not all(isinstance(v, str) and 0 < len(v) <= MAX_ID for v in (uid, eid)):
            raise BadTask("user_id and event_id must be non-empty strings")
        if not isinstance(version, str) or len(version) > MAX_ID:
            raise BadTask("version must be a string")
        return cls(
            str(uid),
            str(eid),
            version,
            payload_instant(payload, "not_before"),
            payload_instant(payload, "at"),
        )


def _moved(meeting: Meeting, job: FollowupJob) -> bool:
    """Whether the meeting moved since the task was made (then the new version has its
    own task). A new etag alone is no move: guests reply and Meet attaches its notes
    after the meeting, and no later task would come for a meeting already over."""
    if meeting.version == job.version:
        return False
    return job.at is None or followup_at(meeting) != job.at


def _why_not(user: User, meeting: Meeting | None, job: FollowupJob, now: datetime) -> str | None:
    if meeting is None:
        return "missing"
    if _moved(meeting, job):
        return "stale"
    if meeting.skip_reason is not None or meeting.prep_state is PrepState.CANCELLED:
        return "skipped"
    if not wants_followup(user, meeting):
        return "off"
    if meeting.followup is not None and meeting.followup.answered:
        return "answered"
    if meeting.prep_state not in PREPARED:
        return "not_prepared"
    if now - meeting.end > FOLLOWUP_EXPIRY:
        return "expired"
    return None


def _mark_asked(
    store: Store, job: FollowupJob, version: str, channel: str, now: datetime
) -> Meeting | str:
    """Record the question (and its one channel) before sending; a resume keeps both."""

    def ask(m: Meeting) -> Meeting:
        if m.followup is not None and m.followup.asked_at is not None:
            return m
        base = m.followup or FollowUp()
        return dataclasses.replace(
            m, followup=dataclasses.replace(base, asked_at=now, channel=channel)
        )

    try:
        return store.update_meeting(job.user_id, job.event_id, ask, expected_version=version)
    except NotFound:
        return "missing"
    except Conflict:
        return "stale"


def _only(user: User, channel: str) -> User:
    """The user as delivery sees them: exactly the follow-up's one channel enabled."""
    prefs = dataclasses.replace(
        user.preferences,
        email_enabled=channel == FollowupMode.EMAIL.value,
        chat_enabled=channel == FollowupMode.CHAT.value,
    )
    return dataclasses.replace(user, preferences=prefs)


def handle_followup(
    *,
    store: Store,
    tasks: TaskQueue,
    now: datetime,
    payload: Mapping[str, Any],
    label_of: Callable[[str], str],
    deliver: Deliver,
    form_url: FormUrl,
    proposals: Proposals = no_proposals,
) -> Result:
    """The `/tasks/followup` handler's work (the root binds the ports; `task_endpoint`
    adds OIDC and retries)."""
    job = FollowupJob.parse(payload)
    result = run_followup(
        store=store,
        tasks=tasks,
        now=now,
        job=job,
        label_of=label_of,
        deliver=deliver,
        form_url=form_url,
        proposals=proposals,
    )
    log(_log, logging.INFO, "followup task", user_id=job.user_id, outcome=result.get("outcome"))
    return result


def form_url(oauth_redirect_uri: str, token: str) -> str:
    """The form page's link. It is served by the deployed `oauth` function (the public
    browser pages), so its origin is the OAuth redirect URI's, not `PREP_PUBLIC_URL`
    (which names the tasks function in production); locally both are the one server."""
    from urllib.parse import quote, urlsplit

    origin = urlsplit(oauth_redirect_uri)
    return f"{origin.scheme}://{origin.netloc}{FORM_PATH}?t={quote(token, safe='')}"


def run_followup(
    *,
    store: Store,
    tasks: TaskQueue,
    now: datetime,
    job: FollowupJob,
    label_of: Callable[[str], str],
    deliver: Deliver,
    form_url: FormUrl,
    proposals: Proposals = no_proposals,
) -> Result:
    if job.not_before is not None and now < job.not_before:
        raise RetryLater("deferred follow-up ran before its time")
    user = store.get_user(job.user_id)
    if user is None:
        return {"outcome": "no_user"}
    meeting = store.get_meeting(job.user_id, job.event_id)
    reason = _why_not(user, meeting, job, now)
    if reason is not None or meeting is None:
        return {"outcome": reason}
    if now < meeting.end:
        raise RetryLater("follow-up task ran before the meeting ended")
    until = quiet_until(now, user.preferences.quiet_hours, user.time_zone)
    if until is not None:
        created = tasks.enqueue(
            deferred_followup_task(
                job.user_id, job.event_id, job.version, until, due=followup_at(meeting)
            )
        )
        return {"outcome": "deferred", "until": until.isoformat(), "created": created}

    asked_before = meeting.followup is not None and meeting.followup.asked_at is not None
    marked = _mark_asked(store, job, meeting.version, user.preferences.followup_mode.value, now)
    if marked == "stale":  # changed between our read and our write: judge it again
        raise RetryLater("the meeting changed while the follow-up was being asked")
    if isinstance(marked, str):
        return {"outcome": marked}
    assert marked.followup is not None
    channel = marked.followup.channel
    notice = build_notice(
        NoticeKind.PREP_DUE, user, marked, type_label=label_of(marked.meeting_type)
    )
    proposed = proposals(user, marked)
    out = Outgoing(
        user=_only(user, channel),
        kind="followup",
        email=lambda name, at, mid: email_question(
            notice,
            form_url(job.user_id, job.event_id),
            sender_name=name,
            sent_at=at,
            message_id=mid,
        ),
        chat=lambda: chat_question(notice, proposed),
    )
    report = deliver(out, f"followup:{job.event_id}")
    if report.needs_retry:
        raise RetryLater("the follow-up channel failed")
    done_now = {Outcome.SENT, Outcome.UNDELIVERABLE} & set(report.outcomes.values())
    outcome = "asked" if done_now or not asked_before else "already_asked"
    return {"outcome": outcome, "channels": report.as_dict()}
