"""`main.py smoke`: prove a deployment works end to end, as its operator, and leave nothing behind.

Every other test here runs against stand-ins; this is the one check that runs
against the real services of a deployed project. It acts as one connected
user, the operator (their Google account id), with the deployment's own
settings and stored grant (like `delete-user`, it needs the deployed
environment: `--config deploy/deploy.env`):

1. create event   a 30-minute event titled "Meeting prep smoke test <run>" on the
                  operator's calendar, an hour from now (Calendar API with the operator's
                  own application-default login: the stored grant only reads)
2. sync sees it   the deployed sync (push channel or schedule) stores the meeting
3. sidebar card   the deployed add-on endpoint is up and refuses an unsigned request
4. generate prep  a generation task on the deployed queue; the real model writes the
                  materials and the meeting becomes `ready`
5. signed URL     a V4 signed URL for the materials answers 200 with the event's title
6. gmail          one message to the operator through the Gmail adapter
7. chat           one direct message to the operator through the Chat adapter

Each step prints PASS or FAIL with the seconds it took; the first failure
stops the run with its reason (exit 1). Cleanup always runs, newest first,
also after a failure, and prints each action: the test event is deleted from
the calendar and the stored meeting forgotten. Two things stay by design: the
two messages (they are what the operator checks arrived, and the product's
grants, gmail.send and chat.bot-with-create, cannot delete them) and the
materials objects, which the bucket's lifecycle rule removes.

The sidebar step cannot open the card the way Calendar does: Workspace signs
each add-on request with an ID token of its own service account, which no
operator can mint. What it proves is that the deployed endpoint answers and
verifies; the card itself is checked by opening the test event in Calendar
while the run waits for the sync (the title is printed).

`Smoke` drives any `SmokeTarget`; `DeployedTarget.from_services` wires the
production one, and the tests drive the same class against the local fakes.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from functions.bootstrap import Bootstrap
    from functions.calendar.google_api import GoogleCalendarWriter
    from functions.domain.meetings import Meeting
    from functions.domain.users import User
    from functions.materials.storage import MaterialsStorage
    from functions.notify.port import ChatSender, EmailSender
    from functions.store.port import Store

TITLE = "Meeting prep smoke test"
CALENDAR_WRITE_SCOPE = "https://www.googleapis.com/auth/calendar.events"


class StepFailed(Exception):
    """A smoke step did not get the answer it needs; the message says why, for the operator."""


class SmokeTarget(Protocol):
    """The deployment as the smoke test sees it."""

    def create_event(self, title: str, start: datetime, end: datetime) -> str: ...

    def delete_event(self, event_id: str) -> None: ...

    def meeting_seen(self, event_id: str) -> bool: ...

    def forget_meeting(self, event_id: str) -> None: ...

    def open_card(self, event_id: str, title: str) -> str: ...

    def generate_prep(self, event_id: str) -> None: ...

    def prep_url(self, event_id: str) -> str | None: ...

    def fetch(self, url: str) -> tuple[int, str]: ...

    def send_email(self, subject: str, text: str) -> str: ...

    def send_chat(self, text: str, request_id: str) -> str: ...


@dataclass
class Smoke:
    target: SmokeTarget
    out: TextIO
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    #: How long to wait for the sync to see the event, and for the materials.
    wait_seconds: float = 600.0
    poll_seconds: float = 5.0
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    _cleanup: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    _event_id: str = ""
    _url: str = ""

    @property
    def title(self) -> str:
        return f"{TITLE} {self.run_id}"

    def run(self) -> int:
        """0 when every step and every cleanup action passed, else 1."""
        steps: list[tuple[str, Callable[[], str]]] = [
            ("create event", self._create_event),
            ("sync sees it", self._sync_sees_it),
            ("sidebar card", self._sidebar_card),
            ("generate prep", self._generate_prep),
            ("signed URL", self._signed_url),
            ("gmail", self._gmail),
            ("chat", self._chat),
        ]
        ok = True
        try:
            for name, step in steps:
                if not self._step(name, step):
                    ok = False
                    break
        finally:
            ok = self._clean_up() and ok
        self.out.write("smoke test passed\n" if ok else "smoke test FAILED\n")
        return 0 if ok else 1

    # ------------------------------------------------------------------ steps

    def _create_event(self) -> str:
        start = (self.now() + timedelta(hours=1)).replace(second=0, microsecond=0)
        self._event_id = self.target.create_event(self.title, start, start + timedelta(minutes=30))
        self._cleanup.append(("delete the test event", self._delete_event))
        return f"{self._event_id} '{self.title}' at {start.isoformat()}"

    def _delete_event(self) -> None:
        self.target.delete_event(self._event_id)

    def _sync_sees_it(self) -> str:
        self._wait(
            lambda: self.target.meeting_seen(self._event_id),
            "the sync did not store the test event; check the calendar push channel "
            "and the sync schedule (docs/sync.md)",
        )
        self._cleanup.append(
            ("forget the stored meeting", lambda: self.target.forget_meeting(self._event_id))
        )
        return "meeting stored"

    def _sidebar_card(self) -> str:
        return self.target.open_card(self._event_id, self.title)

    def _generate_prep(self) -> str:
        self.target.generate_prep(self._event_id)
        got: list[str] = []

        def ready() -> bool:
            url = self.target.prep_url(self._event_id)
            if url:
                got.append(url)
            return bool(url)

        self._wait(ready, "the materials were not ready in time; see the generate task's logs")
        self._url = got[0]
        return "materials ready"

    def _signed_url(self) -> str:
        status, body = self.target.fetch(self._url)
        if status != 200:
            raise StepFailed(f"the signed URL answered {status}")
        if self.title not in body:
            raise StepFailed("the materials do not name the test event")
        return f"{len(body)} characters"

    def _gmail(self) -> str:
        sent = self.target.send_email(self.title, f"{self.title}: the email step works.")
        return f"message {sent}"

    def _chat(self) -> str:
        sent = self.target.send_chat(f"{self.title}: the Chat step works.", f"smoke-{self.run_id}")
        return f"message {sent}"

    # ------------------------------------------------------------------ machinery

    def _step(self, name: str, step: Callable[[], str]) -> bool:
        started = self.monotonic()
        try:
            detail = step()
        except Exception as exc:  # each step's failure is reported, not raised
            self._line("FAIL", name, started, _reason(exc))
            return False
        self._line("PASS", name, started, detail)
        return True

    def _clean_up(self) -> bool:
        ok = True
        while self._cleanup:
            name, action = self._cleanup.pop()
            ok = self._step(f"cleanup: {name}", _done(action)) and ok
        return ok

    def _wait(self, done: Callable[[], bool], why: str) -> None:
        deadline = self.monotonic() + self.wait_seconds
        while not done():
            if self.monotonic() >= deadline:
                raise StepFailed(f"{why} (waited {self.wait_seconds:.0f} s)")
            self.sleep(self.poll_seconds)

    def _line(self, verdict: str, name: str, started: float, detail: str) -> None:
        seconds = self.monotonic() - started
        self.out.write(f"{verdict:4}  {name:<34} {seconds:7.2f} s  {detail}\n")
        self.out.flush()


def _done(action: Callable[[], None]) -> Callable[[], str]:
    def step() -> str:
        action()
        return "done"

    return step


def _reason(exc: Exception) -> str:
    if isinstance(exc, StepFailed):
        return str(exc)
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def http_get(url: str) -> tuple[int, str]:
    """GET a URL: its status and text (an HTTP error status is an answer, not an exception)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - https URLs we made
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def probe_addon(addon_url: str) -> tuple[int, str]:
    """POST an add-on event object with no Google signature: a verifying endpoint refuses it."""
    body = json.dumps({"commonEventObject": {"hostApp": "CALENDAR"}}).encode()
    request = urllib.request.Request(  # noqa: S310 - the deployment's own https URL
        addon_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


@dataclass
class DeployedTarget:
    """The deployment through the product's own adapters, acting for one connected user."""

    user: User
    calendar: GoogleCalendarWriter
    store: Store
    storage: MaterialsStorage
    email: EmailSender
    chat: ChatSender
    #: Queue generation for a stored meeting (the add-on button's path).
    queue_generation: Callable[[Meeting], Any]
    #: Open the sidebar for an event; returns what was shown (or proven).
    card: Callable[[str, str], str]
    fetch_url: Callable[[str], tuple[int, str]] = http_get
    calendar_id: str = "primary"
    url_ttl: timedelta = timedelta(minutes=10)

    @classmethod
    def from_services(cls, services: Bootstrap, user_id: str, addon_url: str) -> DeployedTarget:
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError

        from functions.calendar.google_api import GoogleCalendarWriter
        from functions.prep.queueing import queue_generation

        user = services.store.get_user(user_id)
        if user is None:
            raise StepFailed(
                f"no user {user_id} in this deployment: connect from the sidebar first"
            )
        try:
            # The stored grant only reads; writing the test event takes the operator's own login.
            operator, _ = google.auth.default(scopes=[CALENDAR_WRITE_SCOPE])
        except DefaultCredentialsError as exc:
            raise StepFailed(f"no operator credentials ({exc}); see docs/deployment.md") from None
        source = GoogleCalendarWriter(
            operator, api_endpoint=services.settings.calendar_api_endpoint or None
        )

        def card(event_id: str, title: str) -> str:
            del event_id
            status, _ = probe_addon(addon_url)
            if status not in (401, 403):
                raise StepFailed(f"the add-on endpoint answered {status} to an unsigned request")
            return f"endpoint up and verifying ({status} unsigned); open '{title}' in Calendar"

        return cls(
            user=user,
            calendar=source,
            store=services.store,
            storage=services.materials_storage,
            email=services.notifiers.email,
            chat=services.notifiers.chat,
            queue_generation=lambda m: queue_generation(
                services.store, services.tasks, m, now=services.clock.now()
            ),
            card=card,
        )

    def create_event(self, title: str, start: datetime, end: datetime) -> str:
        created = self.calendar.insert_event(
            self.calendar_id,
            {
                "summary": title,
                "description": "Created by `main.py smoke`; it deletes this event when done.",
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": end.isoformat()},
                "transparency": "transparent",
                "reminders": {"useDefault": False},
            },
        )
        organizer = created.get("organizer")
        email = organizer.get("email") if isinstance(organizer, dict) else None
        if email is not None and email != self.user.email:
            self.calendar.delete_event(self.calendar_id, str(created["id"]))
            raise StepFailed(
                f"the operator credentials belong to {email}, not to the user {self.user.email}"
            )
        return str(created["id"])

    def delete_event(self, event_id: str) -> None:
        self.calendar.delete_event(self.calendar_id, event_id)

    def meeting_seen(self, event_id: str) -> bool:
        return self.store.get_meeting(self.user.user_id, event_id) is not None

    def forget_meeting(self, event_id: str) -> None:
        self.store.delete_meetings(self.user.user_id, [event_id])

    def open_card(self, event_id: str, title: str) -> str:
        return self.card(event_id, title)

    def generate_prep(self, event_id: str) -> None:
        meeting = self.store.get_meeting(self.user.user_id, event_id)
        if meeting is None:
            raise StepFailed("the stored meeting disappeared")
        self.queue_generation(meeting)

    def prep_url(self, event_id: str) -> str | None:
        from functions.domain.prep_state import PrepState
        from functions.materials.storage import HTML

        meeting = self.store.get_meeting(self.user.user_id, event_id)
        if meeting is None:
            raise StepFailed("the stored meeting disappeared")
        if meeting.prep_state is PrepState.FAILED:
            raise StepFailed("generation failed; see the generate task's logs")
        if meeting.prep_state is not PrepState.READY or not meeting.materials_ref:
            return None
        return self.storage.signed_url(meeting.materials_ref + HTML, self.url_ttl)

    def fetch(self, url: str) -> tuple[int, str]:
        return self.fetch_url(url)

    def send_email(self, subject: str, text: str) -> str:
        message = EmailMessage()
        message["To"] = self.user.email
        message["From"] = self.user.email
        message["Subject"] = subject
        message.set_content(text)
        return self.email.send(self.user.user_id, message)

    def send_chat(self, text: str, request_id: str) -> str:
        return self.chat.send_direct(self.user.user_id, {"text": text}, request_id=request_id)
