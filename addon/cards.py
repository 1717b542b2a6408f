"""Small builders for card JSON and the render actions that carry cards.

Card text fields accept a little HTML (<b>, <font>, <a>), so anything that came
from a calendar (titles, names, descriptions) is escaped here, at the one place
text enters a card. Markup we write ourselves is wrapped in `Html` to say
"already safe"; every other string is escaped, so forgetting to escape a
hostile title is not possible by omission.

Google's `google-apps-card` package checks field names and types but not the
limits the hosts enforce; `card_problems` checks those, and the endpoint runs
it on every card it returns.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Json = dict[str, Any]

#: Hosts ignore widgets past this many; a card that needs more must paginate.
MAX_WIDGETS = 100
#: Longest calendar-supplied text shown in one widget (a title, a name).
MAX_SHOWN_TEXT = 200


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
    out: Json = {"text": text, "onClick": on_click}
    if filled:
        out["type"] = "FILLED"
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
    """A labelled line of text; `icon` is a Material icon name."""
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
        out["startIcon"] = {"materialIcon": {"name": icon}}
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


def section(widgets: Sequence[Json], *, title: str | None = None) -> Json:
    out: Json = {"widgets": list(widgets)}
    if title:
        out["header"] = esc(title)
    return out


def card(
    title: str,
    sections: Sequence[Json],
    *,
    subtitle: str | None = None,
    name: str | None = None,
    footer: Json | None = None,
) -> Json:
    head: Json = {"title": title}
    if subtitle:
        head["subtitle"] = subtitle
    out: Json = {"header": head, "sections": [s for s in sections if s["widgets"]]}
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


def card_problems(c: Mapping[str, Any]) -> list[str]:
    """What a host would reject or silently drop that the card schema does not catch."""
    problems: list[str] = []
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
    if not isinstance(header, Mapping) or not header.get("title"):
        problems.append("a card needs a header title")
    return problems
