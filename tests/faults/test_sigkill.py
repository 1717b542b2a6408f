"""SIGKILL the local server at chosen points, start it again, and check what the user gets.

The real `main.py serve` process (through `tests/faults/sigkill_server.py`,
which only adds a place to stop dead) runs on a temporary .local folder with
an .ics whose meetings fall due within seconds. Each test kills it with
SIGKILL, which runs no cleanup at all, at one point:

- with reminders scheduled but not yet due (they live in the task queue);
- between a reminder's Chat claim and its Chat send (the email already out);
- in the middle of a generation (meeting `generating`, its lock claimed).

Then it starts the server again on the same files and waits for the outcome:
every reminder sent exactly once per channel, no meeting left "Preparing…".
Leases are shortened through the ordinary settings (PREP_VERTEX_* bound the
generation lease to 4 s) and, for the Chat claim, by the wrapper (2 s
instead of 15 minutes), so the waits stay short; the whole module takes
about half a minute.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from addon.dev_event import event_object
from functions.bootstrap import Bootstrap
from functions.config import REPO_ROOT, load_settings
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.notify.outbox_page import outbox_of
from functions.notify.port import Channel
from functions.sync.local import LOCAL_USER_ID
from tests.support.roots import shared_dev_key

EMAIL = "you@example.com"
#: Lead time of a 1:1 in config/meeting_types.yaml: its reminder fires this long before.
ONE_ON_ONE_LEAD = timedelta(hours=24)
STARTUP_SECONDS = 60.0

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX-only; this suite kills processes"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _ics(path: Path, starts: list[tuple[str, datetime]]) -> None:
    def stamp(at: datetime) -> str:
        return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//prep//sigkill//EN"]
    for uid, start in starts:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}@example.com",
            f"DTSTAMP:{stamp(datetime.now(UTC))}",
            f"DTSTART:{stamp(start)}",
            f"DTEND:{stamp(start + timedelta(minutes=30))}",
            "SUMMARY:1:1 Sam / You",
            f"ORGANIZER:mailto:{EMAIL}",
            f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{EMAIL}",
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:sam@example.com",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    path.write_text("\r\n".join(lines) + "\r\n")


@dataclass
class Server:
    """One local data folder, and the server processes started on it one after another."""

    tmp: Path
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mark(self) -> Path:
        return Path(self.env["FAULT_MARK"])

    def start(self, pause_at: str | None = None) -> None:
        assert self.proc is None
        self.starts += 1
        args = [sys.executable, "-m", "tests.faults.sigkill_server", "--port", str(self.port)]
        if pause_at:
            args += ["--pause-at", pause_at]
        log = (self.tmp / f"server-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            args, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self._wait_for(self._healthy, STARTUP_SECONDS, "the server to answer /healthz")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        assert self.proc.returncode == -signal.SIGKILL
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.kill()

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            log = (self.tmp / f"server-{self.starts}.log").read_text()[-2000:]
            raise AssertionError(f"the server exited: {log}")
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as resp:  # noqa: S310
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    @staticmethod
    def _wait_for(ready: Callable[[], bool], seconds: float, what: str) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if ready():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    def wait_for(self, ready: Callable[[], bool], seconds: float, what: str) -> None:
        self._wait_for(ready, seconds, what)

    def post_addon(self, body: dict[str, Any]) -> dict[str, Any]:
        token = body["authorizationEventObject"]["systemIdToken"]
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            f"{self.url}/addon",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
            answer: dict[str, Any] = json.loads(resp.read())
            return answer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PREP_") and k not in ("FAULT_MARK", "FAULT_CHAT_LEASE_SECONDS")
    }
    env.update(
        {
            "PREP_MODE": "local",
            "PREP_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PREP_SQLITE_PATH": str(tmp_path / "prep.db"),
            "PREP_OUTBOX_PATH": str(tmp_path / "outbox.db"),
            "PREP_DEV_KEY_PATH": str(shared_dev_key()),
            "PREP_TOKEN_KEK_PATH": str(tmp_path / "kek"),
            "PREP_MATERIALS_DIR": str(tmp_path / "materials"),
            "PREP_MATERIALS_SIGNING_KEY": str(tmp_path / "materials-key.json"),
            "PREP_ICS_PATH": str(tmp_path / "calendar.ics"),
            "PREP_LOCAL_USER_EMAIL": EMAIL,
            # One model call of at most 1 s per attempt: a generation lease of 4 s.
            "PREP_VERTEX_TIMEOUT_SECONDS": "1",
            "PREP_VERTEX_ATTEMPTS": "1",
            "PREP_LOG_LEVEL": "WARNING",
            "FAULT_MARK": str(tmp_path / "paused-at"),
            "FAULT_CHAT_LEASE_SECONDS": "2",
        }
    )
    s = Server(tmp_path, port, env)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def looker(server: Server) -> Iterator[Bootstrap]:
    """The test's own view of the same files: the store, the outbox, a signer."""
    services = Bootstrap(
        load_settings({k: v for k, v in server.env.items() if k.startswith("PREP_")})
    )
    try:
        yield services
    finally:
        services.store.close()


def _meetings(services: Bootstrap) -> list[Meeting]:
    now = datetime.now(UTC)
    return services.store.list_meetings(
        LOCAL_USER_ID, start_from=now - timedelta(days=1), start_before=now + timedelta(days=3)
    )


def _sent(services: Bootstrap, channel: Channel, prefix: str) -> list[str]:
    outbox = outbox_of(services)
    assert outbox is not None
    subjects = [e.subject for e in outbox.entries(channel=channel, user_id=LOCAL_USER_ID)]
    return [s for s in subjects if prefix.lower() in s.lower()]


def _reminders(services: Bootstrap) -> tuple[int, int]:
    return (
        len(_sent(services, Channel.EMAIL, "Coming up")),
        len(_sent(services, Channel.CHAT, "Coming up")),
    )


def _nothing_stuck(services: Bootstrap) -> None:
    for m in _meetings(services):
        assert m.prep_state not in (PrepState.GENERATING, PrepState.SCHEDULED), m.prep_state


def test_reminders_pending_at_a_kill_are_sent_once_after_the_restart(
    server: Server, looker: Bootstrap
) -> None:
    soon = datetime.now(UTC) + ONE_ON_ONE_LEAD
    _ics(
        server.tmp / "calendar.ics",
        [(f"pending-{i}", soon + timedelta(seconds=10 + 3 * i)) for i in range(3)],
    )
    server.start()
    server.kill()
    # Killed as soon as it answered: on a loaded machine a start may be slow enough for
    # the first reminder to have gone out, but the later ones are still ahead.
    before = _reminders(looker)
    assert before[0] < 3, "no reminder was pending at the kill: the start took too long"

    server.start()
    server.wait_for(lambda: _reminders(looker) == (3, 3), 40, "three reminders per channel")
    time.sleep(2)  # anything sent twice would show by now
    assert _reminders(looker) == (3, 3)
    assert {m.prep_state for m in _meetings(looker)} == {PrepState.NOTIFIED}


def test_a_kill_between_the_chat_claim_and_the_send_ends_with_one_message_each(
    server: Server, looker: Bootstrap
) -> None:
    _ics(server.tmp / "calendar.ics", [("claimed", datetime.now(UTC) + ONE_ON_ONE_LEAD)])
    server.start(pause_at="chat_send")
    server.wait_for(server.mark.exists, 40, "the reminder's Chat send")
    assert _reminders(looker) == (1, 0)  # the email went out, the Chat claim is taken
    server.kill()

    server.start()
    server.wait_for(lambda: _reminders(looker) == (1, 1), 40, "the Chat reminder")
    time.sleep(2)
    assert _reminders(looker) == (1, 1)
    _nothing_stuck(looker)


def test_a_kill_mid_generation_does_not_leave_the_meeting_preparing(
    server: Server, looker: Bootstrap
) -> None:
    # Its reminder is a day away: only the click starts anything.
    _ics(server.tmp / "calendar.ics", [("generating", datetime.now(UTC) + timedelta(days=2))])
    server.start(pause_at="generate")
    (meeting,) = _meetings(looker)
    click = event_object(
        looker,
        user_id=LOCAL_USER_ID,
        email=EMAIL,
        parameters={"op": "generate", "eventId": meeting.event_id},
    )
    server.post_addon(click)
    server.wait_for(server.mark.exists, 40, "the generation")
    (meeting,) = _meetings(looker)
    assert meeting.prep_state is PrepState.GENERATING
    server.kill()

    server.start()

    def ready() -> bool:
        (m,) = _meetings(looker)
        return m.prep_state in (PrepState.READY, PrepState.DELIVERED)

    server.wait_for(ready, 60, "the generation to finish after the restart")
    server.wait_for(lambda: len(_sent(looker, Channel.CHAT, "ready")) == 1, 20, "the ready message")
    time.sleep(2)
    assert len(_sent(looker, Channel.EMAIL, "Your prep is ready")) == 1
    assert len(_sent(looker, Channel.CHAT, "ready")) == 1
