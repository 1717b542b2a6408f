"""Feedback on the card: useful / not useful, wrong type (a series override), and the report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from addon import views
from functions.auth.dev_keys import DevSigner
from functions.bootstrap import Bootstrap
from functions.cli import main
from functions.domain.feedback import Feedback, FeedbackKind
from functions.domain.meetings import Meeting
from functions.domain.prep_state import PrepState
from functions.domain.users import Preferences, User
from functions.feedback.report import format_table, rows_for
from functions.store.port import Store
from functions.store.sqlite import SqliteStore
from tests.addon.conftest import NOW
from tests.support.addon_helpers import (
    Client,
    button_ops,
    calendar_event,
    event_body,
    note,
    only_card,
    opened_event,
    seed_meeting,
    texts,
)

START = NOW + timedelta(days=2)
USEFUL, NOT_USEFUL, WRONG = FeedbackKind.USEFUL, FeedbackKind.NOT_USEFUL, FeedbackKind.WRONG_TYPE


@dataclass
class Env:
    client: Client
    signer: DevSigner
    db: Store
    alice: User
    services: Bootstrap

    def seed(self, event_id: str = "ev1", **kw: Any) -> Meeting:
        kw.setdefault("title", "Weekly 1:1 with Bob")
        event = calendar_event(event_id, kw.pop("start", START), **kw)
        return seed_meeting(
            self.db, self.alice, event, now=NOW, classifier=self.services.classifier
        )

    def ready(self, event_id: str = "ev1") -> None:
        self.db.set_prep_state("alice", event_id, PrepState.GENERATING)
        self.db.set_prep_state("alice", event_id, PrepState.READY, materials_ref="m/ev1")

    def card(self, event_id: str = "ev1", series_id: str | None = None) -> dict[str, Any]:
        body = event_body(self.signer, opened=opened_event(event_id, series_id))
        return only_card(self.client.post(body))

    def act(self, op: str, user: str = "alice", **kw: Any) -> dict[str, Any]:
        return self.client.post(event_body(self.signer, user, op=op, **kw))

    def counts(self) -> dict[tuple[str, FeedbackKind], int]:
        return self.db.feedback_counts(self.services.classifier.rules.type_names)


@pytest.fixture
def env(client: Client, signer: DevSigner, db: Store, alice: User, services: Bootstrap) -> Env:
    return Env(client, signer, db, alice, services)


# ---------------------------------------------------------------- the card


def test_ready_prep_can_be_rated_and_the_type_has_one_way_to_change(env: Env) -> None:
    """Issue 17: no "Wrong type" button beside the "Change type" section."""
    env.seed()
    ops = button_ops(env.card())
    assert "Wrong type" not in ops and "Useful" not in ops and "Not useful" not in ops
    assert ops["Save type"] == {"op": "set_type", "eventId": "ev1"}
    env.ready()
    card = env.card()
    ops = button_ops(card)
    assert ops["Useful"] == {"op": "feedback", "kind": "useful", "eventId": "ev1"}
    assert ops["Not useful"] == {"op": "feedback", "kind": "not_useful", "eventId": "ev1"}
    assert "Wrong type" not in ops and ops["Save type"] == {"op": "set_type", "eventId": "ev1"}
    assert "Was this prep useful?" in texts(card)


def test_changing_a_type_the_rules_chose_counts_as_a_wrong_type_once(env: Env) -> None:
    env.seed()
    change = {"meeting_type": ["qbr"], "type_scope": ["event"]}
    for _ in range(2):  # a double click counts once
        env.act("set_type", params={"eventId": "ev1"}, form=change)
    assert env.counts() == {("one_on_one", WRONG): 1}
    # The type shown now is the user's own choice: changing it again blames no rule.
    env.act("set_type", params={"eventId": "ev1"}, form={"meeting_type": ["leadership"]})
    assert env.counts() == {("one_on_one", WRONG): 1}
    # Saving the type the rules chose, unchanged, is no complaint either.
    env.seed("ev2")
    env.act("set_type", params={"eventId": "ev2"}, form={"meeting_type": ["one_on_one"]})
    assert env.counts() == {("one_on_one", WRONG): 1}


def test_meetings_without_prep_ask_for_no_feedback(env: Env) -> None:
    env.seed(my_response="declined")
    ops = button_ops(env.card())
    assert not {"Useful", "Not useful", "Wrong type"} & set(ops)
    assert "needs no prep" in (note(env.act("wrong_type_form", params={"eventId": "ev1"})) or "")


# ---------------------------------------------------------------- useful / not useful


def test_a_rating_counts_once_and_a_change_of_mind_moves_it(env: Env) -> None:
    env.seed()
    env.ready()
    for _ in range(3):  # double (and triple) clicks
        answer = env.act("feedback", params={"eventId": "ev1", "kind": "useful"})
        assert note(answer) == "Thanks! Noted as useful."
    assert env.counts() == {("one_on_one", USEFUL): 1}
    env.act("feedback", params={"eventId": "ev1", "kind": "not_useful"})
    assert env.counts() == {("one_on_one", NOT_USEFUL): 1}


def test_prep_that_is_not_ready_cannot_be_rated(env: Env) -> None:
    env.seed()
    answer = env.act("feedback", params={"eventId": "ev1", "kind": "useful"})
    assert note(answer) == "You can rate the prep once it is ready."
    assert env.counts() == {}


def test_a_rating_must_be_one_of_the_two(env: Env) -> None:
    env.seed()
    env.ready()
    env.client.post(
        event_body(env.signer, op="feedback", params={"eventId": "ev1", "kind": "great"}),
        expect=400,
    )
    assert env.counts() == {}


def test_nobody_rates_another_users_meeting(env: Env) -> None:
    env.seed()
    env.ready()
    env.db.put_user(User(user_id="mallory", email="mallory@example.com"))
    answer = env.act("feedback", "mallory", params={"eventId": "ev1", "kind": "not_useful"})
    assert "not in your prep list" in (note(answer) or "")
    answer = env.act(
        "wrong_type", "mallory", params={"eventId": "ev1"}, form={"meeting_type": ["qbr"]}
    )
    assert "not in your prep list" in (note(answer) or "")
    assert env.counts() == {}
    assert env.db.get_user("alice") == env.alice


# ---------------------------------------------------------------- wrong type


def test_the_wrong_type_form_offers_every_other_type(env: Env) -> None:
    env.seed(series_id="s1")
    answer = env.act("wrong_type_form", params={"eventId": "ev1"})
    card = only_card(answer)
    assert answer["renderActions"]["action"]["navigations"][0].keys() == {"pushCard"}
    [choice] = [
        w["selectionInput"] for w in card["sections"][0]["widgets"] if "selectionInput" in w
    ]
    values = [i["value"] for i in choice["items"]]
    assert "one_on_one" not in values
    assert set(values) == set(env.services.classifier.rules.type_names) - {"one_on_one"}
    assert [i["selected"] for i in choice["items"]].count(True) == 1
    assert "every meeting in this series" in texts(card)
    assert button_ops(card)["Save"] == {"op": "wrong_type", "eventId": "ev1"}
    assert button_ops(card)["Cancel"] == {"op": "back"}


def test_a_wrong_type_becomes_the_series_type_and_is_counted_once(
    env: Env, services: Bootstrap
) -> None:
    first = env.seed("s1_1", series_id="s1")
    later = env.seed("s1_2", series_id="s1", start=START + timedelta(days=7))
    other = env.seed("solo", start=START + timedelta(hours=3))
    assert first.meeting_type == later.meeting_type == other.meeting_type == "one_on_one"
    answer = env.act("wrong_type", params={"eventId": "s1_1"}, form={"meeting_type": ["qbr"]})
    navigations = answer["renderActions"]["action"]["navigations"]
    assert navigations[0] == {"pop": True} and "updateCard" in navigations[1]
    assert (
        note(answer)
        == "Thanks! Type set to Quarterly business review for every meeting in this series."
    )
    assert "Chosen by you for the whole series" in texts(navigations[1]["updateCard"])
    user = env.db.get_user("alice")
    assert user is not None and user.preferences.type_overrides == {"series:s1": "qbr"}
    stored = env.db.get_meetings("alice", ["s1_1", "s1_2", "solo"])
    assert [stored[e].meeting_type for e in ("s1_1", "s1_2", "solo")] == [
        "qbr",
        "qbr",
        "one_on_one",
    ]
    # The rules called it a 1:1: that is what is counted.
    assert env.counts() == {("one_on_one", WRONG): 1}
    # A second submit of the same answer changes nothing.
    again = env.act("wrong_type", params={"eventId": "s1_1"}, form={"meeting_type": ["qbr"]})
    assert "already its type" in (note(again) or "")
    assert env.counts() == {("one_on_one", WRONG): 1}


def test_a_single_meeting_gets_an_event_override(env: Env) -> None:
    env.seed()
    answer = env.act("wrong_type", params={"eventId": "ev1"}, form={"meeting_type": ["external"]})
    assert (note(answer) or "").endswith("for this meeting.")
    user = env.db.get_user("alice")
    assert user is not None and user.preferences.type_overrides == {"event:ev1": "external"}
    assert env.counts() == {("one_on_one", WRONG): 1}


def test_correcting_the_users_own_choice_is_not_the_rules_fault(env: Env) -> None:
    env.seed(series_id="s1")
    env.act("wrong_type", params={"eventId": "ev1"}, form={"meeting_type": ["qbr"]})
    # QBR was the user's own choice; correcting it again is applied but not counted.
    env.act("wrong_type", params={"eventId": "ev1"}, form={"meeting_type": ["leadership"]})
    user = env.db.get_user("alice")
    assert user is not None and user.preferences.type_overrides == {"series:s1": "leadership"}
    assert env.counts() == {("one_on_one", WRONG): 1}


def test_a_wrong_type_answer_needs_a_known_type(env: Env) -> None:
    env.seed()
    for form in ({}, {"meeting_type": ["no_such_type"]}):
        answer = env.act("wrong_type", params={"eventId": "ev1"}, form=form)
        assert note(answer) == "Pick one of the listed meeting types."
    assert env.counts() == {}
    user = env.db.get_user("alice")
    assert user is not None and user.preferences == Preferences()


def test_the_card_still_validates_in_every_feedback_state(env: Env) -> None:
    # Client.post validates every card; this walks the states feedback changes.
    env.seed(series_id="s1")
    env.card("ev1", "s1")
    env.ready()
    env.card("ev1", "s1")
    only_card(env.act("wrong_type_form", params={"eventId": "ev1"}))
    assert views.BLOCK_TIME in button_ops(env.card("ev1", "s1"))


# ---------------------------------------------------------------- the report


def test_report_rows_and_table() -> None:
    counts = {("qbr", USEFUL): 3, ("qbr", NOT_USEFUL): 1, ("one_on_one", WRONG): 2}
    rows, totals = rows_for(counts, [("qbr", "QBR"), ("one_on_one", "1:1")])
    assert [r.as_dict() for r in rows] == [
        {
            "meeting_type": "qbr",
            "label": "QBR",
            "useful": 3,
            "not_useful": 1,
            "wrong_type": 0,
            "useful_share": 0.75,
        },
        {
            "meeting_type": "one_on_one",
            "label": "1:1",
            "useful": 0,
            "not_useful": 0,
            "wrong_type": 2,
            "useful_share": None,
        },
    ]
    assert totals == {USEFUL: 3, NOT_USEFUL: 1, WRONG: 2}
    lines = format_table(rows, totals).splitlines()
    assert lines[0].split() == [
        "type",
        "label",
        "useful",
        "not",
        "useful",
        "wrong",
        "type",
        "useful",
        "share",
    ]
    assert lines[2].split() == ["qbr", "QBR", "3", "1", "0", "75%"]
    assert lines[3].split() == ["one_on_one", "1:1", "0", "0", "2", "-"]
    assert lines[-1].split() == ["total", "3", "1", "2", "75%"]


def test_report_command_reads_the_deployments_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "prep.db"
    store = SqliteStore(path)
    store.record_feedback(Feedback("a", "e1", USEFUL, "qbr"))
    store.record_feedback(Feedback("b", "e1", USEFUL, "qbr"))
    store.record_feedback(Feedback("a", "e2", WRONG, "retired_type"))
    store.close()
    monkeypatch.setenv("PREP_SQLITE_PATH", str(path))
    assert main(["report", "--json", "--type", "retired_type"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by_type = {t["meeting_type"]: t for t in doc["types"]}
    assert by_type["qbr"]["useful"] == 2 and by_type["qbr"]["useful_share"] == 1.0
    assert by_type["retired_type"] == {
        "meeting_type": "retired_type",
        "label": "(not in the rules)",
        "useful": 0,
        "not_useful": 0,
        "wrong_type": 1,
        "useful_share": None,
    }
    assert doc["totals"] == {"useful": 2, "not_useful": 0, "wrong_type": 1}
    assert main(["report"]) == 0
    table = capsys.readouterr().out
    assert any(
        line.split()[:1] == ["qbr"] and line.split()[-4:] == ["2", "0", "0", "100%"]
        for line in table.splitlines()
    )
    assert "retired_type" not in table


def test_report_command_refuses_bad_input_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PREP_SQLITE_PATH", str(tmp_path / "prep.db"))
    assert main(["report", "--config", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("main.py report: error:")
    with pytest.raises(SystemExit) as exc:
        main(["report", "--bogus"])
    assert exc.value.code == 2
