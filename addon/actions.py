"""The sidebar's button actions: which `op` a click carries, and what answers it.

A click names its action in the `op` parameter; an unknown one is a
malformed request. The actions live in `handlers.py` and, for the features
that build on its helpers, in their own modules (delegates, the prep-time
block, feedback), so this table sits above all of them and none imports it.
The endpoint imports this module on a click only: the first card's cold
start never loads the click-only modules.
"""

from __future__ import annotations

from addon import cards as c
from addon import context_sources, delegates, feedback, prep_block, share
from addon import handlers as h
from addon.event_object import MalformedEvent
from addon.handlers import Action
from addon.sidebar import Call

ACTIONS: dict[str, Action] = {
    "home": h.refresh_home,
    "event": h.show_event,
    "refresh": h.refresh_event,
    "reopen": h.reopen,
    "generate": h.generate,
    "regenerate": h.regenerate,
    "materials": h.open_materials,
    "set_type": h.set_type,
    "settings": h.show_settings,
    "save_settings": h.save_settings,
    "connect": h.connect,
    "confirm_delete": h.confirm_delete,
    "delete_data": h.delete_data,
    "back": h.back,
    "delegates": delegates.show_delegates,
    "add_delegate": delegates.add_delegate,
    "check_delegate": delegates.check_delegate,
    "remove_delegate": delegates.remove_delegate,
    "allow_delegates": delegates.allow_delegates,
    "allow_sources": context_sources.allow_sources,
    "prep_block": prep_block.block_prep_time,
    "share_agenda": share.share_agenda_action,
    "feedback": feedback.rate_prep,
    "wrong_type_form": feedback.wrong_type_form,
    "wrong_type": feedback.report_wrong_type,
    "tick_item": h.tick_action_item,
}


def run(call: Call) -> c.Json:
    """Answer a button click (`call.event.op` is set)."""
    action = ACTIONS.get(call.event.op or "")
    if action is None:
        raise MalformedEvent("unknown action")
    return action(call)
