"""Chat messages as the API takes them: a short text plus one cardsV2 card.

Card text widgets render a little HTML, so calendar text is escaped at the
one place it enters a card (`_esc`). The message's plain `text` carries no
calendar text at all: Chat parses it for its own markup and mentions
(`<users/all>`), and a hostile title has no business there.

The Generate prep button carries the event id, never a user id: the Chat
endpoint takes the user from the verified click and looks the meeting up
under that user only, so a forged parameter can reach nobody else's data.
"""

from __future__ import annotations

import html
from typing import Any

from functions.notify.content import Notice, NoticeKind

Json = dict[str, Any]

#: The Chat app's action for the Generate prep button (`common.invokedFunction`).
GENERATE_ACTION = "generatePrep"
#: Longest calendar text shown in one widget.
MAX_SHOWN = 200


def _esc(value: str) -> str:
    if len(value) > MAX_SHOWN:
        value = value[: MAX_SHOWN - 1] + "…"
    return html.escape(value, quote=False)


def _plain(value: str) -> str:
    """For fields Chat shows as plain text (header subtitle): bounded, single line."""
    line = " ".join(value.split())
    return line if len(line) <= MAX_SHOWN else line[: MAX_SHOWN - 1] + "…"


def _link_button(text: str, url: str) -> Json:
    return {"text": text, "onClick": {"openLink": {"url": url}}}


def generate_button(notice: Notice) -> Json:
    return {
        "text": "Generate prep",
        "onClick": {
            "action": {
                "function": GENERATE_ACTION,
                "parameters": [
                    {"key": "op", "value": "generate"},
                    {"key": "event_id", "value": notice.meeting.event_id},
                    {"key": "version", "value": notice.meeting.version},
                ],
            }
        },
    }


def _header(notice: Notice) -> Json:
    subtitle = f"{notice.type_label} · {notice.when}"
    if notice.owner is not None:
        subtitle = f"For {notice.owner.name} · {subtitle}"
    return {"title": "Meeting prep", "subtitle": _plain(subtitle)}


def _summary(notice: Notice) -> Json:
    text = f"<b>{_esc(notice.title)}</b><br>{_esc(notice.when)} ({_esc(notice.zone)})"
    if notice.owner is not None:
        text = f"For <b>{_esc(notice.owner.name)}</b><br>{text}"
    return {"textParagraph": {"text": text}}


def _for_text(notice: Notice) -> str:
    """Plain-text label: only the validated address, never calendar-supplied names."""
    return f" for {notice.owner.address}" if notice.owner is not None else ""


def _people(notice: Notice) -> list[Json]:
    if not notice.people:
        return []
    names = ", ".join(notice.people)
    if notice.more_people:
        names += f" and {notice.more_people} more"
    return [{"decoratedText": {"topLabel": "With", "text": _esc(names), "wrapText": True}}]


def prep_due_card(notice: Notice) -> Json:
    buttons = [generate_button(notice), _link_button("Open in Calendar", notice.calendar_url)]
    return {
        "header": _header(notice),
        "sections": [
            {"widgets": [_summary(notice), *_people(notice), {"buttonList": {"buttons": buttons}}]}
        ],
    }


def generating_card(notice: Notice) -> Json:
    """What the clicked message turns into: the button is gone, so nobody clicks twice."""
    return {
        "header": _header(notice),
        "sections": [
            {
                "widgets": [
                    _summary(notice),
                    {
                        "textParagraph": {
                            "text": "Generating your prep… "
                            "You'll get a message here when it's ready."
                        }
                    },
                    {
                        "buttonList": {
                            "buttons": [_link_button("Open in Calendar", notice.calendar_url)]
                        }
                    },
                ]
            }
        ],
    }


def status_card(notice: Notice, text: str) -> Json:
    """A card that only says where things stand (meeting gone, cannot generate)."""
    return {
        "header": _header(notice),
        "sections": [{"widgets": [_summary(notice), {"textParagraph": {"text": _esc(text)}}]}],
    }


def prep_ready_card(notice: Notice) -> Json:
    buttons = []
    if notice.materials_url:
        buttons.append(_link_button("Open your prep", notice.materials_url))
    buttons.append(_link_button("Open in Calendar", notice.calendar_url))
    return {
        "header": _header(notice),
        "sections": [
            {
                "widgets": [
                    _summary(notice),
                    {"textParagraph": {"text": "Your prep is ready."}},
                    {"buttonList": {"buttons": buttons}},
                ]
            }
        ],
    }


def card_message(card_id: str, card: Json, text: str) -> Json:
    return {"text": text, "cardsV2": [{"cardId": card_id, "card": card}]}


def chat_message_for(notice: Notice) -> Json:
    """The message body for spaces.messages.create."""
    whose = "their" if notice.owner is not None else "your"
    if notice.kind is NoticeKind.PREP_READY:
        return card_message(
            "prep-ready",
            prep_ready_card(notice),
            f"Your prep{_for_text(notice)} for {whose} {notice.type_label} is ready.",
        )
    return card_message(
        "prep-due",
        prep_due_card(notice),
        f"Coming up{_for_text(notice)}: {whose} {notice.type_label} on {notice.when}.",
    )
