"""The add-on event object (the POST body Workspace sends), parsed defensively.

Everything in the body is attacker-reachable until the tokens are verified,
and even after that the calendar part describes someone else's event, so the
parser accepts only the shapes Workspace documents, bounds every string, and
turns anything else into `MalformedEvent` (a 400), never an exception deeper
in the handlers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from functions.timefmt import valid_locale, valid_zone

#: Longest id, parameter value or token accepted (JWTs are ~1 KB; event ids far less).
MAX_FIELD = 8192
MAX_PARAMETERS = 32
MAX_FORM_INPUTS = 64


class MalformedEvent(ValueError):
    """The body is not an add-on event object we can act on."""


@dataclass(frozen=True, slots=True)
class OpenedEvent:
    """The `calendar` part: which event the sidebar is open on, if any."""

    calendar_id: str | None
    event_id: str | None
    series_id: str | None


@dataclass(frozen=True, slots=True)
class AddonEvent:
    parameters: Mapping[str, str] = field(default_factory=dict)
    #: Form values by input name (string inputs only; Workspace sends a list each).
    form: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    locale: str | None = None
    time_zone: str | None = None
    host_app: str | None = None
    user_oauth_token: str | None = field(default=None, repr=False)
    user_id_token: str | None = field(default=None, repr=False)
    system_id_token: str | None = field(default=None, repr=False)
    #: None when Workspace did not say; empty when it said "nothing granted".
    authorized_scopes: frozenset[str] | None = None
    opened: OpenedEvent | None = None

    @property
    def op(self) -> str | None:
        return self.parameters.get("op")

    def form_value(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedEvent(f"{where} must be an object")
    return value


def _string(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_FIELD:
        raise MalformedEvent(f"{where} must be a string of at most {MAX_FIELD} characters")
    return value or None


def _parameters(raw: Any) -> Mapping[str, str]:
    params = _mapping(raw, "parameters")
    if len(params) > MAX_PARAMETERS:
        raise MalformedEvent("too many parameters")
    out: dict[str, str] = {}
    for key, value in params.items():
        text = _string(value, "a parameter value")
        if not isinstance(key, str) or len(key) > 64:
            raise MalformedEvent("parameter names are short strings")
        out[key] = text or ""
    return MappingProxyType(out)


def _form(raw: Any) -> Mapping[str, tuple[str, ...]]:
    inputs = _mapping(raw, "formInputs")
    if len(inputs) > MAX_FORM_INPUTS:
        raise MalformedEvent("too many form inputs")
    out: dict[str, tuple[str, ...]] = {}
    for name, entry in inputs.items():
        if not isinstance(name, str) or len(name) > 64:
            raise MalformedEvent("form input names are short strings")
        strings = _mapping(_mapping(entry, "a form input").get("stringInputs"), "stringInputs")
        values = strings.get("value", [])
        if not isinstance(values, list) or len(values) > MAX_PARAMETERS:
            raise MalformedEvent("stringInputs.value must be a short list")
        out[name] = tuple(_string(v, "a form value") or "" for v in values)
    return MappingProxyType(out)


def _scopes(raw: Any) -> frozenset[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) > 100:
        raise MalformedEvent("authorizedScopes must be a list")
    return frozenset(s for s in (_string(v, "a scope") for v in raw) if s)


def _opened(raw: Any) -> OpenedEvent | None:
    cal = _mapping(raw, "calendar")
    if not cal:
        return None
    return OpenedEvent(
        calendar_id=_string(cal.get("calendarId"), "calendar.calendarId"),
        event_id=_string(cal.get("id"), "calendar.id"),
        series_id=_string(cal.get("recurringEventId"), "calendar.recurringEventId"),
    )


def parse_event(body: Any) -> AddonEvent:
    if not isinstance(body, Mapping):
        raise MalformedEvent("the body must be a JSON object")
    common = _mapping(body.get("commonEventObject"), "commonEventObject")
    auth = _mapping(body.get("authorizationEventObject"), "authorizationEventObject")
    zone = _mapping(common.get("timeZone"), "commonEventObject.timeZone")
    return AddonEvent(
        parameters=_parameters(common.get("parameters")),
        form=_form(common.get("formInputs")),
        # An unknown locale or zone is not the caller's fault: fall back, don't refuse.
        locale=valid_locale(_string(common.get("userLocale"), "userLocale")),
        time_zone=valid_zone(_string(zone.get("id"), "timeZone.id")),
        host_app=_string(common.get("hostApp"), "hostApp"),
        user_oauth_token=_string(auth.get("userOAuthToken"), "userOAuthToken"),
        user_id_token=_string(auth.get("userIdToken"), "userIdToken"),
        system_id_token=_string(auth.get("systemIdToken"), "systemIdToken"),
        authorized_scopes=_scopes(auth.get("authorizedScopes")),
        opened=_opened(body.get("calendar")),
    )
