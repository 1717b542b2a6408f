"""Small builders for card JSON and the render actions that carry cards.

Card text fields accept a little HTML (<b>, <font>, <a>), so anything that came
from a calendar (titles, names, descriptions) is escaped here, at the one place
text enters a card. Markup we write ourselves is wrapped in `Html` to say
"already safe"; every other string is escaped, so forgetting to escape a
hostile title is not possible by omission.

Google's `google-apps-card` package checks field names and types but not the
limits the hosts enforce; `card_problems` checks those, and the endpoint runs
it on every card it returns. One card schema serves two hosts that accept
different parts of it: the Card framework reference marks some fields
"available for Google Chat apps and unavailable for Google Workspace add-ons"
(`materialIcon`, a button's `type`, ...) and others the reverse (a card's
`name`, `openLink.openAs`, ...). `card_problems` knows both lists
(`HOST_ONLY`), so an add-on card with a Chat-only field fails a test instead
of rendering without its icon in Calendar.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

Json = dict[str, Any]

#: The add-on's name (`common.name` in the manifest): Calendar draws it, with the logo,
#: above every card, so a card header saying it again is a wasted line.
ADDON_NAME = "Meeting prep"
#: Hosts ignore widgets past this many; a card that needs more must paginate.
MAX_WIDGETS = 100
#: Longest calendar-supplied text shown in one widget (a title, a name).
MAX_SHOWN_TEXT = 200


class Host(StrEnum):
    """Who draws the card: the Calendar sidebar (a Workspace add-on) or Google Chat."""

    ADDON = "addon"
    CHAT = "chat"


#: Card fields (JSON names) by card message that only one host accepts: the fields the
#: Card framework reference marks for that host alone, and fields whose type it marks
#: so. Checked against `google-apps-card`'s own reference text in tests/addon/test_cards.py.
HOST_ONLY: Mapping[Host, Mapping[str, frozenset[str]]] = {
    Host.CHAT: {
        "Widget": frozenset({"carousel", "horizontalAlignment"}),
        "Columns.Column": frozenset({"horizontalAlignment"}),
        "CollapseControl": frozenset({"horizontalAlignment"}),
        "TextParagraph": frozenset({"textSyntax"}),
        "DecoratedText": frozenset(
            {"startIconVerticalAlignment", "topLabelText", "contentText", "bottomLabelText"}
        ),
        "TextInput": frozenset({"placeholderText"}),
        "SelectionInput": frozenset({"platformDataSource"}),
        "Button": frozenset({"type"}),
        "Icon": frozenset({"materialIcon"}),
        "Action": frozenset({"interaction"}),
    },
    Host.ADDON: {
        "Card": frozenset({"cardActions", "name", "displayStyle", "peekCardHeader"}),
        "TextInput": frozenset({"autoCompleteAction"}),
        "OnClick": frozenset({"openDynamicLinkAction", "card"}),
        "OpenLink": frozenset({"openAs", "onClose"}),
    },
}

#: The card message a JSON key holds, for the messages `HOST_ONLY` names. Within the
#: card schema each of these keys always holds the same message (checked in tests).
MESSAGE_OF_KEY: Mapping[str, str] = {
    "card": "Card",
    "widgets": "Widget",
    "columnItems": "Columns.Column",
    "collapseControl": "CollapseControl",
    "textParagraph": "TextParagraph",
    "topLabelText": "TextParagraph",
    "contentText": "TextParagraph",
    "bottomLabelText": "TextParagraph",
    "decoratedText": "DecoratedText",
    "textInput": "TextInput",
    "selectionInput": "SelectionInput",
    "buttons": "Button",
    "button": "Button",
    "primaryButton": "Button",
    "secondaryButton": "Button",
    "collapseButton": "Button",
    "expandButton": "Button",
    "icon": "Icon",
    "startIcon": "Icon",
    "endIcon": "Icon",
    "onClick": "OnClick",
    "action": "Action",
    "onChangeAction": "Action",
    "autoCompleteAction": "Action",
    "externalDataSource": "Action",
    "openDynamicLinkAction": "Action",
    "openLink": "OpenLink",
}

#: Built-in icons (`Icon.knownIcon`), which both hosts draw (Card framework "built-in
#: icons"; Apps Script `CardService.Icon`). Anything else shows no icon at all.
KNOWN_ICONS = frozenset(
    {
        "AIRPLANE", "BOOKMARK", "BUS", "CAR", "CLOCK", "CONFIRMATION_NUMBER_ICON",
        "DESCRIPTION", "DOLLAR", "EMAIL", "EVENT_PERFORMER", "EVENT_SEAT", "FLIGHT_ARRIVAL",
        "FLIGHT_DEPARTURE", "HOTEL", "HOTEL_ROOM_TYPE", "INVITE", "MAP_PIN", "MEMBERSHIP",
        "MULTIPLE_PEOPLE", "OFFER", "PERSON", "PHONE", "RESTAURANT_ICON", "SHOPPING_CART",
        "STAR", "STORE", "TICKET", "TRAIN", "VIDEO_CAMERA", "VIDEO_PLAY",
    }
)  # fmt: skip

#: A primary button's fill (Google blue). `Button.type` FILLED is Chat-only; a button
#: with a `color` is drawn filled by both hosts.
PRIMARY_COLOR: Json = {"red": 0.102, "green": 0.451, "blue": 0.91}


class Html(str):
    """Markup written by us: passes through `esc` unchanged."""

    __slots__ = ()


def esc(value: str) -> str:
    """Escape < > & in anything that is not our own `Html`, and bound its length."""
    if isinstance(value, Html):
        return str(value)
    if len(value) > MAX_SHOWN_TEXT:
        value = value[: MAX_SHOWN_TEXT - 1] + "…"
    return html.escape(value, quote=False)


def bold(value: str) -> Html:
    return Html(f"<b>{esc(value)}</b>")


def colored(value: str, color: str) -> Html:
    if not (color.startswith("#") and len(color) == 7):
        raise ValueError("colors are #rrggbb")
    return Html(f'<font color="{color}">{esc(value)}</font>')


# ---------------------------------------------------------------- actions


def action(
    url: str, op: str, params: Mapping[str, str] | None = None, *, spinner: bool = True
) -> Json:
    """A callback to our endpoint; `op` routes it (one add-on URL for everything)."""
    parameters = [{"key": "op", "value": op}]
    parameters += [{"key": k, "value": v} for k, v in (params or {}).items()]
    return {
        "action": {
            "function": url,
            "parameters": parameters,
            "loadIndicator": "SPINNER" if spinner else "NONE",
        }
    }


def link(url: str, *, overlay: bool = True, reload_on_close: bool = True) -> Json:
    """An OpenLink: OVERLAY + RELOAD is a modal whose closing refreshes the card."""
    return {
        "url": url,
        "openAs": "OVERLAY" if overlay else "FULL_SIZE",
        "onClose": "RELOAD" if reload_on_close else "NOTHING",
    }


def open_link(url: str, *, overlay: bool = True, reload_on_close: bool = True) -> Json:
    """A button's onClick that opens `url`."""
    return {"openLink": link(url, overlay=overlay, reload_on_close=reload_on_close)}


# ---------------------------------------------------------------- widgets


def button(text: str, on_click: Json, *, filled: bool = False, disabled: bool = False) -> Json:
    """A button; `filled` marks the primary action (by `color`, which add-ons accept)."""
    out: Json = {"text": text, "onClick": on_click}
    if filled:
        out["color"] = dict(PRIMARY_COLOR)
    if disabled:
        out["disabled"] = True
    return out


def buttons(*items: Json) -> Json:
    return {"buttonList": {"buttons": list(items)}}


def paragraph(text: str) -> Json:
    return {"textParagraph": {"text": esc(text)}}


def decorated(
    text: str,
    *,
    top: str | None = None,
    bottom: str | None = None,
    on_click: Json | None = None,
    side_button: Json | None = None,
    icon: str | None = None,
) -> Json:
    """A labelled line of text; `icon` is a built-in icon name (`KNOWN_ICONS`)."""
    out: Json = {"text": esc(text), "wrapText": True}
    if top:
        out["topLabel"] = esc(top)
    if bottom:
        out["bottomLabel"] = esc(bottom)
    if on_click is not None:
        out["onClick"] = on_click
    if side_button is not None:
        out["button"] = side_button
    if icon:
        if icon not in KNOWN_ICONS:
            raise ValueError(f"{icon!r} is not a built-in card icon")
        out["startIcon"] = {"knownIcon": icon}
    return {"decoratedText": out}


def divider() -> Json:
    return {"divider": {}}


def selection(
    name: str,
    label: str,
    items: Iterable[tuple[str, str, bool]],
    *,
    kind: str = "DROPDOWN",
) -> Json:
    """`items` are (text, value, selected); `kind` DROPDOWN, RADIO_BUTTON, SWITCH, CHECK_BOX."""
    return {
        "selectionInput": {
            "name": name,
            "label": label,
            "type": kind,
            "items": [{"text": t, "value": v, "selected": s} for t, v, s in items],
        }
    }


def text_input(name: str, label: str, value: str = "", *, hint: str | None = None) -> Json:
    out: Json = {"name": name, "label": label, "value": value}
    if hint:
        out["hintText"] = hint
    return {"textInput": out}


# ---------------------------------------------------------------- cards


def section(
    widgets: Sequence[Json], *, title: str | None = None, collapsible: bool = False
) -> Json:
    """`collapsible`: folded to its first widget until opened (rarely used options)."""
    out: Json = {"widgets": list(widgets)}
    if title:
        out["header"] = esc(title)
    if collapsible and len(widgets) > 1:
        out["collapsible"] = True
        out["uncollapsibleWidgetsCount"] = 1
    return out


def card(
    title: str | None,
    sections: Sequence[Json],
    *,
    subtitle: str | None = None,
    name: str | None = None,
    footer: Json | None = None,
) -> Json:
    """A card; `title` None leaves out the header (Calendar already shows the add-on's name)."""
    out: Json = {}
    if title is not None:
        head: Json = {"title": title}
        if subtitle:
            head["subtitle"] = subtitle
        out["header"] = head
    out["sections"] = [s for s in sections if s["widgets"]]
    if name:
        out["name"] = name
    if footer is not None:
        out["fixedFooter"] = footer
    return out


def footer(primary: Json, secondary: Json | None = None) -> Json:
    out: Json = {"primaryButton": primary}
    if secondary is not None:
        out["secondaryButton"] = secondary
    return out


# ---------------------------------------------------------------- render actions


def push_card(c: Json, *, note: str | None = None) -> Json:
    """The answer to a homepage or eventOpen trigger: show this card."""
    act: Json = {"navigations": [{"pushCard": c}]}
    if note:
        act["notification"] = {"text": note}
    return {"action": act}


def render(
    navigations: Sequence[Json] = (), *, note: str | None = None, opens: Json | None = None
) -> Json:
    """The answer to a button click: navigate, notify and/or open a link."""
    act: Json = {}
    if navigations:
        act["navigations"] = list(navigations)
    if note:
        act["notification"] = {"text": note}
    if opens is not None:
        act["link"] = opens
    return {"renderActions": {"action": act}}


def update_card(c: Json, *, note: str | None = None) -> Json:
    return render([{"updateCard": c}], note=note)


def notify(text: str) -> Json:
    return render(note=text)


def request_scopes(lacking: Sequence[str]) -> Json:
    """Ask Workspace for consent to exactly `lacking`; it re-runs the request after.

    The list form asks for these scopes only; `{"all_scopes": true}` would put
    every scope of the manifest (calendar write access included) in front of a
    user who only opened an event.
    """
    wanted = list(dict.fromkeys(lacking))
    if not wanted:
        raise ValueError("a scope request needs at least one scope")
    return {"requesting_google_scopes": {"scopes": wanted}}


# ---------------------------------------------------------------- checks


def cards_in(response: Mapping[str, Any]) -> list[Json]:
    """Every card a render action carries (pushCard and updateCard navigations)."""
    act = response.get("action")
    if act is None and isinstance(response.get("renderActions"), Mapping):
        act = response["renderActions"].get("action")
    if not isinstance(act, Mapping):
        return []
    found: list[Json] = []
    for nav in act.get("navigations") or []:
        for key in ("pushCard", "updateCard"):
            if isinstance(nav, Mapping) and isinstance(nav.get(key), dict):
                found.append(nav[key])
    return found


def _widgets(c: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for sec in c.get("sections") or []:
        yield from sec.get("widgets") or []


def _host_problems(c: Mapping[str, Any], host: Host) -> list[str]:
    """Fields `host` does not accept, and built-in icon names that do not exist."""
    other = Host.CHAT if host is Host.ADDON else Host.ADDON
    refused = HOST_ONLY[other]
    found: list[str] = []

    def walk(node: Any, message: str | None, where: str) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, message, f"{where}[{i}]")
            return
        if not isinstance(node, Mapping):
            return
        for key in sorted(refused.get(message or "", frozenset()) & set(node)):
            found.append(f"{where}.{key}: {message}.{key} is for {other.value} cards only")
        if message == "Icon" and "knownIcon" in node and node["knownIcon"] not in KNOWN_ICONS:
            found.append(f"{where}.knownIcon: {node['knownIcon']!r} is not a built-in icon")
        for key, value in node.items():
            walk(value, MESSAGE_OF_KEY.get(key), f"{where}.{key}")

    walk(c, "Card", "card")
    return found


def card_problems(c: Mapping[str, Any], host: Host = Host.ADDON) -> list[str]:
    """What `host` would reject or silently drop that the card schema does not catch."""
    problems: list[str] = _host_problems(c, host)
    widgets = list(_widgets(c))
    if len(widgets) > MAX_WIDGETS:
        problems.append(f"{len(widgets)} widgets; hosts ignore those past {MAX_WIDGETS}")
    if not c.get("sections"):
        problems.append("a card needs at least one section")
    for i, sec in enumerate(c.get("sections") or []):
        if not sec.get("widgets"):
            problems.append(f"section {i} has no widgets")
    foot = c.get("fixedFooter")
    if foot is not None:
        primary = foot.get("primaryButton") if isinstance(foot, Mapping) else None
        if not isinstance(primary, Mapping) or not primary.get("onClick"):
            problems.append("a fixed footer needs a primary button with an onClick")
    for w in widgets:
        for b in (w.get("buttonList") or {}).get("buttons") or []:
            if not b.get("onClick"):
                problems.append(f"button {b.get('text')!r} has no onClick")
    header = c.get("header")
    if header is not None and (not isinstance(header, Mapping) or not header.get("title")):
        problems.append("a card header needs a title")
    elif isinstance(header, Mapping) and host is Host.ADDON:
        title = str(header.get("title", "")).strip().casefold()
        if title == ADDON_NAME.casefold():
            problems.append(
                f"the header repeats {ADDON_NAME!r}, which Calendar shows above every card"
            )
    return problems
