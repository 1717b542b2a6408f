"""What the Chat app needs from the composition root (which satisfies this Protocol).

A click delivers notices and queues generation, so it needs what
`functions.notify.deps.NotifyDeps` names, the queue, and Chat's token check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from functions.notify.deps import NotifyDeps

if TYPE_CHECKING:
    from functions.chat.auth import ChatVerifier
    from functions.tasks.port import TaskQueue


class ChatDeps(NotifyDeps, Protocol):
    @property
    def tasks(self) -> TaskQueue: ...
    @property
    def chat_verifier(self) -> ChatVerifier: ...
