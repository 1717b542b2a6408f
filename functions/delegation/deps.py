"""What delegated calendars need from the composition root (which satisfies this Protocol).

A Protocol, not the root's type: the feature names the ports it uses and
nothing else, and the root (`functions.bootstrap`) is passed in where it is
wired, so no module here imports it (the import contract in pyproject.toml).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from functions.calendar.port import CalendarSource
    from functions.config import Settings
    from functions.domain.clock import Clock
    from functions.domain.users import User
    from functions.oauth.credentials import CredentialsProvider
    from functions.store.port import Store
    from functions.tasks.port import TaskQueue


class DelegationDeps(Protocol):
    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def store(self) -> Store: ...
    @property
    def tasks(self) -> TaskQueue: ...
    @property
    def credentials(self) -> CredentialsProvider: ...
    def calendar_for(self, user: User) -> CalendarSource:
        """The calendar `user`'s background work reads (the root picks .ics or the API)."""
        ...
