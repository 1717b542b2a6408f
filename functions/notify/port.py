"""The delivery ports: one per channel, so each can fail (and be retried) on its own.

Adapters answer in two kinds of failure because the prep workflow must treat
them differently: a `TransientDeliveryError` (5xx, rate limit, network) is
retried through the task queue with its backoff, while a
`PermanentDeliveryError` (the user removed the Chat app, revoked Gmail
access) can never succeed by retrying, so it is recorded on the user and
shown on their homepage card instead. They are the notify branch of the
tree in `functions.errors`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum
from typing import Any

from functions.errors import PermanentError, TransientError


class Channel(StrEnum):
    EMAIL = "email"
    CHAT = "chat"


class DeliveryError(Exception):
    """A send did not happen. `reason` is for logs: never message content."""

    def __init__(self, channel: Channel, reason: str) -> None:
        super().__init__(f"{channel.value}: {reason}")
        self.channel = channel
        self.reason = reason


class TransientDeliveryError(DeliveryError, TransientError):
    """Worth retrying later: the service or the network had a bad moment."""


class PermanentDeliveryError(DeliveryError, PermanentError):
    """Retrying cannot help until the user acts; `problem` is a code from `problems`."""

    def __init__(self, channel: Channel, problem: str, reason: str = "") -> None:
        super().__init__(channel, reason or problem)
        self.problem = problem


class EmailSender(ABC):
    @abstractmethod
    def send(self, user_id: str, message: EmailMessage) -> str:
        """Send `message` from the user's own mailbox; returns the sent message's id."""


class ChatSender(ABC):
    @abstractmethod
    def send_direct(self, user_id: str, message: Mapping[str, Any], *, request_id: str) -> str:
        """Post `message` in the Chat app's direct message with the user.

        `request_id` makes the create idempotent on Chat's side too: a retry
        whose first attempt did reach Chat returns that message instead of
        posting a second one. Returns the message's resource name.
        """

    @abstractmethod
    def update_message(self, name: str, message: Mapping[str, Any]) -> bool:
        """Replace the text and card of a message the app sent (`name` from `send_direct`).

        Safe to repeat: the same update twice leaves the same message. False
        when the message is gone (deleted, or the DM with it): there is
        nothing left to correct, which is not a failure.
        """


@dataclass(frozen=True, slots=True)
class Notifiers:
    email: EmailSender
    chat: ChatSender
