"""The follow-up question as Chat and email render it, and the Chat card's later states.

In Chat it is a card with two text inputs (decisions; action items, one per
line, "owner: item") and two buttons, Save and "Nothing to record": the
click arrives at the Chat endpoint with the inputs in `common.formInputs`.
By email it is a link to the form page (`functions.followup.form`) that
carries a signed token, never an id. Meeting titles come from other
people's calendars and answers are typed by anyone: every bit of them is
escaped where it enters a card or HTML, and none of it goes into a Chat
message's plain `text` (Chat parses that for mentions) or into a header
unstripped.
"""

from __future__ import annotations

import email.policy
import email.utils
import html
from collections.abc import Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

from functions.domain.followups import FollowUp, proposed_lines
from functions.notify.content import Notice
from functions.notify.email_message import header_text

Json = dict[str, Any]

#: The Chat app's action for both buttons (`common.invokedFunction`).
FOLLOWUP_ACTION = "recordFollowup"
DECISIONS_FIELD = "decisions"
ITEMS_FIELD = "action_items"
CARD_ID = "followup"
_SHOWN = 200


def _esc(value: str, limit: int = _SHOWN) -> str:
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return html.escape(value, quote=False)


def _summary(notice: Notice) -> Json:
    return {
        "textParagraph": {
            "text": f"<b>{_esc(notice.title)}</b><br>{_esc(notice.when)} ({_esc(notice.zone)})"
        }
    }


def _button(text: str, event_id: str, choice: str) -> Json:
    return {
        "text": text,
        "onClick": {
            "action": {
                "function": FOLLOWUP_ACTION,
                "parameters": [
                    {"key": "op", "value": "followup"},
                    {"key": "event_id", "value": event_id},
                    {"key": "choice", "value": choice},
                ],
            }
        },
    }


def question_card(notice: Notice, proposed: Sequence[tuple[str, str]] = ()) -> Json:
    """The card that asks; `proposed` (text, owner) pre-fills the action items."""
    event_id = notice.meeting.event_id
    return {
        "header": {"title": "After the meeting", "subtitle": f"{notice.type_label}"},
        "sections": [
            {
                "widgets": [
                    _summary(notice),
                    {"textParagraph": {"text": "What was decided, and who does what next?"}},
                    {
                        "textInput": {
                            "name": DECISIONS_FIELD,
                            "label": "Decisions (one per line)",
                            "type": "MULTIPLE_LINE",
                        }
                    },
                    {
                        "textInput": {
                            "name": ITEMS_FIELD,
                            "label": "Action items (one per line, like: Sam: send the deck)",
                            "type": "MULTIPLE_LINE",
                            "value": proposed_lines(proposed),
                        }
                    },
                    {
                        "buttonList": {
                            "buttons": [
                                _button("Save", event_id, "save"),
                                _button("Nothing to record", event_id, "nothing"),
                            ]
                        }
                    },
                ]
            }
        ],
    }


def recorded_card(notice: Notice, followup: FollowUp) -> Json:
    """What the asking card turns into once answered: what was kept, no buttons."""
    if followup.nothing_to_record:
        body = "Noted: nothing to record."
    else:
        lines = [f"Decision: {_esc(d)}" for d in followup.decisions]
        lines += [
            f"Action: {_esc(i.text)}" + (f" ({_esc(i.owner, 100)})" if i.owner else "")
            for i in followup.items
        ]
        body = "Saved.<br>" + "<br>".join(lines)
    return {
        "header": {"title": "After the meeting", "subtitle": f"{notice.type_label}"},
        "sections": [{"widgets": [_summary(notice), {"textParagraph": {"text": body}}]}],
    }


def chat_question(notice: Notice, proposed: Sequence[tuple[str, str]] = ()) -> Json:
    """The message body for spaces.messages.create (no calendar text in `text`)."""
    return {
        "text": f"How did your {notice.type_label} go? Record decisions and action items.",
        "cardsV2": [{"cardId": CARD_ID, "card": question_card(notice, proposed)}],
    }


def _safe(url: str) -> str | None:
    return url if url.startswith(("https://", "http://")) else None


def email_question(
    notice: Notice, form_url: str, *, sender_name: str, sent_at: datetime, message_id: str
) -> EmailMessage:
    """The question by email: a link to the form. ValueError when the address is unusable."""
    address = notice.user.email.strip()
    if not address or "@" not in address:
        raise ValueError("the user has no email address")
    link = _safe(form_url)
    title = header_text(notice.title)
    text = [
        f'How did "{title}" ({notice.when}, {notice.zone}) go?',
        "",
        "Record what was decided and the action items, or that there is nothing to record:",
        link or "",
        "",
        "The link works once and for a few days. Open action items come back in the "
        "prep for the next meeting with the same people.",
        "",
        "-- ",
        "Meeting prep. Turn these questions off in the Meeting prep panel's settings.",
    ]
    e = html.escape
    parts = [
        f"<p>How did <b>{e(notice.title)}</b> ({e(notice.when)}, {e(notice.zone)}) go?</p>",
        "<p>Record what was decided and the action items, or that there is nothing to record.</p>",
    ]
    if link:
        parts.append(
            f'<p><a href="{e(link, quote=True)}" style="display:inline-block;padding:8px 16px;'
            'background:#1a73e8;color:#ffffff;border-radius:4px;text-decoration:none">'
            "Record outcomes</a></p>"
        )
    parts.append(
        '<p style="color:#5f6368;font-size:12px">The link works once and for a few days. '
        "Turn these questions off in the Meeting prep panel's settings.</p>"
    )
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = Address(display_name=header_text(sender_name, 80), addr_spec=address)
    msg["To"] = Address(addr_spec=address)
    msg["Subject"] = header_text(f"After the meeting: {notice.title}")
    msg["Date"] = email.utils.format_datetime(sent_at)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content("\n".join(text) + "\n", charset="utf-8", cte="quoted-printable")
    body = "\n".join(parts)
    msg.add_alternative(
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f'<body style="font-family:Arial,sans-serif">\n{body}\n</body></html>\n',
        subtype="html",
        charset="utf-8",
        cte="quoted-printable",
    )
    for part in msg.iter_parts():
        del part["MIME-Version"]
    return msg
