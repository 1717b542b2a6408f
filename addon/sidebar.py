"""What the sidebar's handlers work with: the ports, and one verified request.

`Sidebar` names the dependencies the add-on needs beyond `AddonDeps` (a task
queue, and the adapters that act with the user's own token: Calendar to read,
the prep-time block's writer, the shared agenda's ports), chosen by the root,
so tests can hand in fakes without patching. `Call` is one verified request: the user id
in it comes from the userIdToken and nowhere else.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from addon.event_object import AddonEvent
from addon.verify import Identity
from addon.views import View
from functions.auth.id_tokens import IdTokenVerifier
from functions.calendar.port import CalendarSource
from functions.config import Settings
from functions.domain.classification import Classifier
from functions.domain.users import User
from functions.logs import log
from functions.materials.lease import generation_lease
from functions.share.port import AgendaCalendar, AgendaDocs
from functions.store.port import Store
from functions.tasks.port import TaskQueue
from functions.timefmt import TimeFormat

if TYPE_CHECKING:
    from addon.deps import AddonDeps
    from functions.calendar.writer import CalendarWriter

_log = logging.getLogger(__name__)

#: Builds a Calendar client that acts with the user's add-on OAuth token.
CalendarFactory = Callable[[str], CalendarSource]
#: Builds the event and Drive ports "Share agenda with guests" uses, from the user's token.
SharePorts = Callable[["Call", str], tuple[AgendaCalendar, AgendaDocs]]
#: Builds the calendar "Block 30 min to prepare" writes to, from the user's token.
BlockWriter = Callable[["Call", str], "CalendarWriter"]


@dataclass
class Sidebar:
    #: The composition root, seen as what the add-on uses.
    services: AddonDeps
    #: None: the services' queue, built on first use (a homepage never pays for it).
    task_queue: TaskQueue | None = None
    #: None in local mode: there is no Google to fetch unseen events from.
    calendar_for: CalendarFactory | None = None
    #: The root hands in Google's adapters, or the local stand-ins in local mode.
    share_ports: SharePorts | None = None
    #: The root hands in Google Calendar as the user, or locally the .ics with its block
    #: file; None: no calendar to write to, so the card offers no prep-time block.
    block_writer: BlockWriter | None = None

    @property
    def tasks(self) -> TaskQueue:
        return self.task_queue if self.task_queue is not None else self.services.tasks

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def classifier(self) -> Classifier:
        return self.services.classifier

    @property
    def id_tokens(self) -> IdTokenVerifier:
        return self.services.id_tokens

    @property
    def url(self) -> str:
        """Where every card button posts: the one add-on URL (the token audience)."""
        return self.settings.addon_audience

    def now(self) -> datetime:
        return self.services.clock.now()


@dataclass
class Call:
    """One verified add-on request."""

    app: Sidebar
    event: AddonEvent
    who: Identity
    now: datetime
    user: User
    #: False while nothing is stored for this user (viewing alone stores nothing).
    user_stored: bool

    @cached_property
    def view(self) -> View:
        return View(
            url=self.app.url,
            fmt=TimeFormat.for_user(self.user.time_zone, self.user.locale),
            rules=self.app.classifier.rules,
            now=self.now,
            generation_lease=generation_lease(self.app.settings.materials),
        )

    @property
    def user_id(self) -> str:
        return self.who.user_id

    def save_user(self, user: User) -> None:
        self.app.store.put_user(user)
        self.user = user
        self.user_stored = True
        self.__dict__.pop("view", None)


def open_call(app: Sidebar, event: AddonEvent, who: Identity) -> Call:
    """Load (never create) the user, keeping their time zone and locale current."""
    stored = app.store.get_user(who.user_id)
    zone = event.time_zone
    locale = event.locale
    if stored is None:
        user = User(
            user_id=who.user_id,
            email=who.email,
            time_zone=zone or "UTC",
            locale=locale or "en-US",
            workspace_domain=who.hosted_domain,
        )
        return Call(app, event, who, app.now(), user, user_stored=False)
    fresh = dataclasses.replace(
        stored,
        email=who.email or stored.email,
        time_zone=zone or stored.time_zone,
        locale=locale or stored.locale,
        workspace_domain=who.hosted_domain or stored.workspace_domain,
    )
    call = Call(app, event, who, app.now(), stored, user_stored=True)
    if fresh != stored:
        # The background prep task formats times for this user too; keep them current.
        call.save_user(fresh)
        log(_log, logging.INFO, "user locale updated", user_id=who.user_id)
    return call
