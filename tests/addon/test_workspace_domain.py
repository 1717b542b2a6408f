"""Internal means the user's Workspace: the verified userIdToken's `hd` claim, kept on the user.

A user whose address is on a secondary domain (alice@eu.corp.example) works
with colleagues on the primary one (corp.example). Google puts the primary
domain in the ID token's `hd` claim: no scope, no Admin SDK call.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from addon.verify import verify_user_token
from functions.auth.dev_keys import DevSigner
from functions.bootstrap import Bootstrap
from functions.config import REPO_ROOT
from functions.domain.classification import Classifier, MeetingFacts
from functions.domain.meeting_types import load_rules
from functions.domain.users import User
from functions.store.codec import user_from_doc, user_to_doc
from functions.store.port import Store
from tests.support.addon_helpers import Client, event_body, only_card, user_token

RULES = REPO_ROOT / "config" / "meeting_types.yaml"


@pytest.mark.parametrize(
    ("hd", "expected"),
    [
        ("corp.example", "corp.example"),
        ("Corp.Example", "corp.example"),
        (None, ""),
        (42, ""),
        ("not a domain", ""),
        ("x" * 300 + ".example", ""),
    ],
)
def test_the_hd_claim_is_read_from_the_verified_token(
    services: Bootstrap, signer: DevSigner, hd: object, expected: str
) -> None:
    token = user_token(signer, "alice", email="alice@eu.corp.example", hd=hd)
    who = verify_user_token(services.id_tokens, services.settings, token)
    assert (who.email, who.hosted_domain) == ("alice@eu.corp.example", expected)


def test_a_request_keeps_the_users_workspace_domain(
    client: Client, signer: DevSigner, db: Store
) -> None:
    db.put_user(User(user_id="alice", email="alice@eu.corp.example"))
    body = event_body(signer, "alice")
    body["authorizationEventObject"]["userIdToken"] = user_token(
        signer, "alice", email="alice@eu.corp.example", hd="corp.example"
    )
    only_card(client.post(body))
    stored = db.get_user("alice")
    assert stored is not None and stored.workspace_domain == "corp.example"
    assert stored.domains == {"eu.corp.example", "corp.example"}
    # A later token without the claim (it never drops from a Workspace account,
    # but a stand-in might) does not forget it.
    only_card(client.post(event_body(signer, "alice")))
    again = db.get_user("alice")
    assert again is not None and again.workspace_domain == "corp.example"


def test_colleagues_on_the_workspace_domain_are_internal() -> None:
    classifier = Classifier(load_rules(RULES))
    user = User("alice", "alice@eu.corp.example", workspace_domain="corp.example")
    facts = MeetingFacts(
        title="Planning sync",
        attendee_count=3,
        attendee_domains=frozenset({"corp.example", "eu.corp.example"}),
    )
    assert classifier.classify_facts(facts, user_domain=user.domain).meeting_type == "external"
    assert classifier.classify_facts(facts, user_domain=user.domains).meeting_type != "external"
    assert "corp.example" in classifier.internal_domains_for(user.domains)


def test_the_workspace_domain_is_stored(tmp_path: Path) -> None:
    user = User("alice", "alice@eu.corp.example", workspace_domain="corp.example")
    assert user_from_doc(user_to_doc(user)) == user
    assert user_from_doc({"user_id": "old", "email": "old@x.example"}).workspace_domain == ""
