"""The local server, made to stop dead at one chosen point so a test can SIGKILL it.

    python -m tests.faults.sigkill_server --port P [--pause-at generate|chat_send]

Runs `functions.local_server.serve` exactly as `main.py serve` does (same
settings from the environment, same store, queue and routes). With
`--pause-at`, the first time the process reaches that point it writes the
point's name to the file named by FAULT_MARK and blocks there forever, so
the test knows the process is inside it when it sends SIGKILL:

- `generate`: inside the generator, after the generation task moved the
  meeting to `generating` and took its lock claim;
- `chat_send`: inside the Chat send of a reminder, after the email went out
  and the Chat claim was taken.

FAULT_CHAT_LEASE_SECONDS shortens the Chat claim's lease (15 minutes in
production) so a test can wait it out; nothing else differs from
`main.py serve`. Nothing of this lives in production code.
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any


def _pause_here(point: str) -> None:
    Path(os.environ["FAULT_MARK"]).write_text(point)
    threading.Event().wait()  # until SIGKILL


def _install(pause_at: str | None) -> None:
    from functions.notify import delivery
    from functions.notify.port import Channel

    lease = os.environ.get("FAULT_CHAT_LEASE_SECONDS")
    if lease:
        delivery._LEASES = {Channel.CHAT: timedelta(seconds=float(lease))}
    if pause_at == "generate":
        from functions.materials.offline import OfflineGenerator

        def generate(self: OfflineGenerator, context: Any, prompt: Any) -> Any:
            _pause_here("generate")

        OfflineGenerator.generate = generate  # type: ignore[method-assign]
    elif pause_at == "chat_send":
        from functions.notify.outbox import OutboxChatSender

        def send_direct(
            self: OutboxChatSender, user_id: str, message: Mapping[str, Any], *, request_id: str
        ) -> str:
            _pause_here("chat_send")
            raise AssertionError("unreachable")

        OutboxChatSender.send_direct = send_direct  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pause-at", choices=("generate", "chat_send"))
    args = parser.parse_args()
    _install(args.pause_at)
    from functions.local_server import serve

    serve(host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
