"""Send one notice on every channel the user wants, each at most once.

Exactly-once rests on a store claim per (notice, channel), taken *before*
the send: a duplicated or retried task finds the claim and sends nothing.
A transient failure gives the claim back, so the queue's retry can send; a
permanent one keeps it (retrying cannot help) and records the problem on
the user for their homepage card. Channels are independent: Chat being down
does not hold back the email, and a retry only re-sends what failed.

A process can die between claiming and sending. For Chat that loses
nothing: its `requestId` is derived from the claim key, so a create may be
repeated safely (Chat returns the first message instead of posting another).
Chat claims are therefore leased and confirmed after the send; a retry that
finds one unconfirmed comes back later, and once the lease is over it takes
the claim over and sends again. Gmail has no such key, so an email claim is
final: a crash between claim and send loses that one email rather than risk
sending it twice.

A message about one meeting (a reminder, a "prep is ready") is recorded
once sent (`SentMessage`: its Chat name or email id and the start it
announced), so that `functions.notify.corrections` can keep it true when
the meeting changes. For Chat the record is written before the claim is
confirmed: a failed write is retried like a failed send, and the repeated
create returns the same message. An email is never re-sent for its record;
a failed write only costs that email its correction.
"""

from __future__ import annotations

import dataclasses
import email.errors
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from functions.domain.meetings import Meeting
from functions.domain.sent_messages import SentMessage, facts_of
from functions.domain.users import Preferences, User
from functions.logs import log
from functions.notify import problems
from functions.notify.chat_message import chat_message_for
from functions.notify.content import Notice
from functions.notify.deps import NotifyDeps
from functions.notify.email_message import build_email
from functions.notify.port import (
    Channel,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from functions.store.port import Store

_log = logging.getLogger(__name__)

#: Fixed namespace: request ids and Message-IDs derived from claim keys stay stable forever.
_IDS = uuid.UUID("5f1d0a52-8f3e-4c1b-9a55-2f0c6f0e9b21")

#: How long an unconfirmed Chat claim is presumed to be a live send. Longer than
#: any one task attempt can run (the tasks function times out after 9 minutes,
#: even when Cloud Tasks stopped waiting earlier), so only a dead holder's claim
#: expires; the queues that deliver keep retrying for far longer than this
#: (both checked in tests/deploy/test_plan.py).
CHAT_CLAIM_LEASE = timedelta(minutes=15)

#: Channels whose send may be repeated without a second message, and their lease.
_LEASES: Mapping[Channel, timedelta] = {Channel.CHAT: CHAT_CLAIM_LEASE}


class Outcome(StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    DISABLED = "disabled"
    UNDELIVERABLE = "undeliverable"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    outcomes: Mapping[Channel, Outcome]

    @property
    def needs_retry(self) -> bool:
        return Outcome.RETRY in self.outcomes.values()

    def as_dict(self) -> dict[str, str]:
        return {c.value: o.value for c, o in self.outcomes.items()}


def channel_enabled(preferences: Preferences, channel: Channel) -> bool:
    return preferences.email_enabled if channel is Channel.EMAIL else preferences.chat_enabled


def stable_id(user_id: str, key: str) -> uuid.UUID:
    return uuid.uuid5(_IDS, f"{user_id}\x1f{key}")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for one user, as each channel renders it (a reminder, a digest, ...)."""

    user: User
    #: For logs only (never content): "prep_due", "prep_ready", "digest".
    kind: str
    #: (sender display name, sent at, Message-ID) -> the email; ValueError if unusable.
    email: Callable[[str, datetime, str], EmailMessage]
    #: The Chat message body for spaces.messages.create.
    chat: Callable[[], Mapping[str, Any]]
    #: The one meeting the message is about (recorded once sent); None for a digest.
    meeting: Meeting | None = None


def outgoing_notice(notice: Notice) -> Outgoing:
    return Outgoing(
        user=notice.user,
        kind=notice.kind.value,
        email=lambda name, at, mid: build_email(
            notice, sender_name=name, sent_at=at, message_id=mid
        ),
        chat=lambda: chat_message_for(notice),
        meeting=notice.meeting,
    )


def _send(services: NotifyDeps, channel: Channel, out: Outgoing, key: str) -> str:
    """Send on `channel`; returns the sent message's id (Chat: its resource name)."""
    user = out.user
    if channel is Channel.EMAIL:
        host = urlsplit(services.settings.public_url).hostname or "localhost"
        try:
            message = out.email(
                services.settings.notify.mail_from_name,
                services.clock.now(),
                f"<{stable_id(user.user_id, key).hex}@{host}>",
            )
        except (ValueError, email.errors.MessageError):
            raise PermanentDeliveryError(
                Channel.EMAIL, problems.EMAIL_NO_ADDRESS, "unusable address"
            ) from None
        return services.notifiers.email.send(user.user_id, message)
    return services.notifiers.chat.send_direct(
        user.user_id, out.chat(), request_id=str(stable_id(user.user_id, key))
    )


def _record(services: NotifyDeps, out: Outgoing, channel: Channel, key: str, name: str) -> bool:
    """Remember what went out about `out.meeting`; False if the store failed."""
    meeting = out.meeting
    if meeting is None:
        return True
    sent = SentMessage(
        user_id=out.user.user_id,
        event_id=meeting.event_id,
        key=key,
        channel=channel.value,
        kind=out.kind,
        name=name,
        start=meeting.start,
        sent_at=services.clock.now(),
        shows=facts_of(meeting),
    )
    try:
        services.store.put_sent_message(sent)
    except Exception as exc:  # any store failure: the caller decides what it costs
        log(_log, logging.WARNING, "sent message not recorded", error=type(exc).__name__)
        return False
    return True


def set_problem(store: Store, user_id: str, problem: str) -> None:
    """Record a problem the user must fix (re-read first: the user may have changed)."""
    current = store.get_user(user_id)
    if current is not None and current.delivery_problem != problem:
        store.put_user(dataclasses.replace(current, delivery_problem=problem))


def clear_problem(store: Store, user_id: str, channel: Channel) -> None:
    """A send on `channel` worked, so a problem recorded for that channel is over."""
    current = store.get_user(user_id)
    if current is not None and problems.channel_of(current.delivery_problem) is channel:
        store.put_user(dataclasses.replace(current, delivery_problem=None))


def deliver(
    services: NotifyDeps, user: User, notice: Notice, *, claim_prefix: str
) -> DeliveryReport:
    """Send `notice` on each enabled channel under the claim `{claim_prefix}:{channel}`."""
    return deliver_outgoing(services, outgoing_notice(notice), claim_prefix=claim_prefix)


def deliver_outgoing(services: NotifyDeps, out: Outgoing, *, claim_prefix: str) -> DeliveryReport:
    """Send `out` on each channel its user enabled, each under `{claim_prefix}:{channel}`."""
    store = services.store
    user = out.user
    outcomes: dict[Channel, Outcome] = {}
    for channel in Channel:
        if not channel_enabled(user.preferences, channel):
            outcomes[channel] = Outcome.DISABLED
            continue
        key = f"{claim_prefix}:{channel.value}"
        lease = _LEASES.get(channel)
        if not store.claim(user.user_id, key, lease=lease):
            if lease is not None and not store.claim_confirmed(user.user_id, key):
                # Being sent elsewhere, or its sender died: come back until it
                # is confirmed or the lease is over and this retry takes it.
                outcomes[channel] = Outcome.RETRY
                log(_log, logging.INFO, "notification in flight", channel=channel.value)
            else:
                outcomes[channel] = Outcome.ALREADY_SENT
            continue
        try:
            name = _send(services, channel, out, key)
        except PermanentDeliveryError as exc:
            # The claim stays: this notice is settled for this channel.
            if lease is not None:
                store.confirm_claim(user.user_id, key)
            set_problem(store, user.user_id, exc.problem)
            outcomes[channel] = Outcome.UNDELIVERABLE
            log(
                _log,
                logging.WARNING,
                "notification undeliverable",
                user_id=user.user_id,
                channel=channel.value,
                problem=exc.problem,
            )
        except TransientDeliveryError as exc:
            store.release_claim(user.user_id, key)
            outcomes[channel] = Outcome.RETRY
            log(
                _log,
                logging.WARNING,
                "notification failed, will retry",
                user_id=user.user_id,
                channel=channel.value,
                reason=exc.reason,
            )
        except BaseException:
            store.release_claim(user.user_id, key)
            raise
        else:
            if not _record(services, out, channel, key, name) and lease is not None:
                # Repeatable send: give the claim back and let the retry record it.
                store.release_claim(user.user_id, key)
                outcomes[channel] = Outcome.RETRY
                continue
            if lease is not None:
                store.confirm_claim(user.user_id, key)
            outcomes[channel] = Outcome.SENT
            clear_problem(store, user.user_id, channel)
            log(
                _log,
                logging.INFO,
                "notification sent",
                user_id=user.user_id,
                channel=channel.value,
                kind=out.kind,
            )
    return DeliveryReport(outcomes)
