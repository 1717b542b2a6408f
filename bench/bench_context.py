"""Context building time and prompt size as a meeting's history grows: the prompt stays bounded.

    .venv/bin/python bench/bench_context.py [--rounds 5]

For a weekly meeting with 2, 20 and 200 earlier related meetings (alternately
earlier occurrences of its series and other meetings with the same people,
every one with stored materials and a realistic summary record), this builds
the context the generation task builds (store reads in windows, ranking,
summary reads from the local materials storage, the budget fit) and renders
the prompt. It prints the median build time, the prompt size in characters
and in estimated tokens (4 characters per token), each relative to the
2-prior case measured in the same run, and an estimated cost per generation
at the configured list prices (output size taken from an offline generation
of the same meeting, serialised as the model would answer).

A last row adds the mail source at its bounds to the 200-prior case: the
most threads the mail source hands over, each with a subject, participants
and snippet at their length caps (`functions/mail/port.py` `MailLimits`), so
the prompt's size with every source on is measured too.

A second table covers documents (attachments and standing context): the
same meeting with 0, 2 and 8 attached documents of 50,000 characters each
plus 2 standing documents, read through an in-memory reader behind the same
port as Drive, so what is measured is the gathering, the per-document and
total bounds and the budget fit. It prints the document characters that
reach the prompt, the prompt size and tokens, and the build time, each
relative to the no-document case of the same run.

No thresholds (this is not a test); docs/materials.md records a run.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from functions.domain.clock import FixedClock
from functions.domain.meetings import Attachment, Attendee, Meeting, ResponseStatus
from functions.domain.users import User
from functions.mail.port import DEFAULT_MAIL_LIMITS
from functions.materials.context import (
    DEFAULT_BUDGET,
    build_context,
    estimate_tokens,
)
from functions.materials.documents.gather import DocumentSources
from functions.materials.documents.port import Document, DocumentRef, text_hash
from functions.materials.generator import Prices, Usage
from functions.materials.local_files import LocalMaterialsStorage, LocalSigningKey
from functions.materials.mail_context import MailFacts, MailThreadFact
from functions.materials.model import OpenItem, SummaryRecord
from functions.materials.offline import offline_materials
from functions.materials.prompt import build_prompt
from functions.materials.settings import DEFAULT_TEMPLATES, MaterialsSettings
from functions.materials.storage import MaterialsObjects, materials_ref
from functions.materials.templates import load_templates
from functions.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
USER = User(user_id="bench-user", email="me@example.com", time_zone="Europe/Berlin")
TEAM = [f"person{i}@example.com" for i in range(8)] + ["client@partner.test"]
DESCRIPTION = (
    "Weekly product sync.\n- Launch readiness\n- Open risks\n- Customer feedback\n"
    "Notes doc: https://docs.example.com/d/launch-notes\n"
) * 6


def full_mailbox() -> MailFacts:
    """The mail source at its caps: every thread, field and participant at its longest."""
    limits = DEFAULT_MAIL_LIMITS
    thread = MailThreadFact(
        subject="S" * limits.subject_chars,
        participants=tuple(
            f"Person {k} <{'p' * 20}{k}@example.com>"[: limits.participant_chars]
            for k in range(limits.max_participants)
        ),
        last_message=(NOW - timedelta(days=1)).isoformat(timespec="minutes"),
        snippet="w " * (limits.snippet_chars // 2),
        messages=25,
        link="https://mail.google.com/mail/#all/" + "f" * 16,
    )
    return MailFacts(threads=(thread,) * limits.max_threads)


@dataclass(frozen=True)
class Result:
    prior: int
    seconds: float
    chars: int
    tokens: int
    included: int
    document_chars: int = 0


def attendees(offset: int) -> tuple[Attendee, ...]:
    people = [Attendee(USER.email, "Me", ResponseStatus.ACCEPTED, is_self=True)]
    for k in range(5):
        email = TEAM[(offset + k) % len(TEAM)]
        people.append(Attendee(email, email.split("@")[0].title(), organizer=k == 0))
    return tuple(people)


def seed(store: SqliteStore, storage: LocalMaterialsStorage, prior: int) -> Meeting:
    start = NOW + timedelta(days=1)
    target = Meeting(
        user_id=USER.user_id,
        event_id="target",
        calendar_id="primary",
        title="Product sync",
        start=start,
        end=start + timedelta(minutes=45),
        description=DESCRIPTION,
        series_id="weekly",
        attendees=attendees(0),
        organizer_email=TEAM[0],
        version="v1",
    )
    earlier = []
    for i in range(prior):
        at = start - timedelta(days=(i // 2) * 7 + 1 + (i % 2) * 3, hours=i % 5)
        ref = materials_ref(USER.user_id, f"prior-{i}", f"{i:040x}")
        earlier.append(
            Meeting(
                user_id=USER.user_id,
                event_id=f"prior-{i}",
                calendar_id="primary",
                title=f"Product sync #{i}" if i % 2 == 0 else f"Design review {i}",
                start=at,
                end=at + timedelta(minutes=45),
                description=DESCRIPTION,
                series_id="weekly" if i % 2 == 0 else None,
                attendees=attendees(i),
                organizer_email=TEAM[i % len(TEAM)],
                version="v1",
                materials_ref=ref,
            )
        )
        storage.put(
            ref,
            MaterialsObjects(
                html="<!DOCTYPE html>",
                markdown="#",
                summary=SummaryRecord(
                    meeting_start=at,
                    summary="We reviewed launch readiness, agreed owners for the open risks "
                    "and decided to move the beta by one week. " * 3,
                    open_items=[
                        *(
                            OpenItem(
                                kind="question",
                                text=f"Who signs off item {k} of the launch checklist?",
                                raised_at=at,
                            )
                            for k in range(6)
                        ),
                        *(
                            OpenItem(
                                kind="follow_up",
                                text=f"Owner {k} sends the revised plan for area {k}",
                                raised_at=at,
                            )
                            for k in range(6)
                        ),
                    ],
                ),
            ),
        )
    store.upsert_meetings([target, *earlier])
    return target


#: A long document: a 50,000-character design doc, far past the per-document bound.
DOCUMENT_TEXT = (
    "Launch plan section. The beta moves to the second week of January; the owners of the "
    "open risks report weekly and the rollback runbook is reviewed before each release.\n"
) * 300


class _Documents:
    """Every file id reads as the same long document (the reader is not what is measured)."""

    def read(self, ref: DocumentRef, *, max_chars: int) -> Document:
        return Document(
            title=f"Design doc {ref.file_id}",
            url=ref.url,
            mime_type="application/vnd.google-apps.document",
            text=DOCUMENT_TEXT[:max_chars],
            modified=NOW,
            content_hash=text_hash(DOCUMENT_TEXT),
            clipped=len(DOCUMENT_TEXT) > max_chars,
        )


def _link(file_id: str) -> str:
    return f"https://docs.google.com/document/d/{file_id}/edit"


def measure(
    prior: int,
    rounds: int,
    root: Path,
    mail: MailFacts | None = None,
    documents: int | None = None,
) -> tuple[Result, int]:
    """One case; with `mail`, those threads; with `documents`, that many attachments
    plus 2 standing documents."""
    folder = root / f"prior-{prior}{'-mail' if mail else ''}-docs-{documents}"
    store = SqliteStore(folder / "prep.db")
    store.put_user(USER)
    storage = LocalMaterialsStorage(
        folder / "materials",
        LocalSigningKey.generate(),
        "http://127.0.0.1:8080",
        FixedClock(NOW),
    )
    target = seed(store, storage, prior)
    sources = None
    if documents is not None:
        files = tuple(
            Attachment(f"Design doc {i}", _link(f"doc{i}"), "", f"doc{i}") for i in range(documents)
        )
        target = dataclasses.replace(target, attachments=files)
        standing = (
            tuple(DocumentRef(f"standing{i}", _link(f"standing{i}"), "Plan") for i in range(2))
            if documents
            else ()
        )
        sources = DocumentSources(_Documents(), standing)
    templates = load_templates(DEFAULT_TEMPLATES)
    timings = []
    prompt = None
    ctx = None
    for _ in range(rounds):
        began = time.perf_counter()
        ctx = build_context(
            store=store,
            read_summary=storage.read_summary,
            user=USER,
            meeting=target,
            template=templates.for_type("default"),
            template_version=templates.version,
            type_label="Meeting",
            internal_domains=frozenset({"example.com"}),
            now=NOW,
            mail=mail,
            documents=sources,
        )
        prompt = build_prompt(ctx)
        timings.append(time.perf_counter() - began)
    assert prompt is not None and ctx is not None
    output_tokens = estimate_tokens(offline_materials(ctx).model_dump_json())
    store.close()
    result = Result(
        prior=prior,
        seconds=statistics.median(timings),
        chars=prompt.chars,
        tokens=prompt.estimated_tokens,
        included=len(ctx.prior),
        document_chars=sum(len(d.text) for d in ctx.documents),
    )
    return result, output_tokens


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    settings = MaterialsSettings()
    prices = Prices(settings.price_input_per_million, settings.price_output_per_million)
    budget_tokens = DEFAULT_BUDGET.max_prompt_chars // 4
    print(f"prompt budget: {DEFAULT_BUDGET.max_prompt_chars} chars (~{budget_tokens} tokens)")
    print(
        f"{'prior':>6} {'included':>8} {'build ms':>9} {'x base':>7} "
        f"{'prompt chars':>12} {'tokens':>7} {'x base':>7} {'est. USD':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(n, args.rounds, Path(tmp)) for n in (2, 20, 200)]
        results.append(measure(200, args.rounds, Path(tmp), full_mailbox()))
    base = results[0][0]
    for i, (r, output_tokens) in enumerate(results):
        cost = prices.cost(Usage(r.tokens, output_tokens))
        label = f"{r.prior}+mail" if i == 3 else str(r.prior)
        print(
            f"{label:>6} {r.included:>8} {r.seconds * 1000:>9.1f} "
            f"{r.seconds / base.seconds:>7.2f} {r.chars:>12} {r.tokens:>7} "
            f"{r.tokens / base.tokens:>7.2f} {cost:>9.5f}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        docs = [measure(20, args.rounds, Path(tmp), documents=n) for n in (0, 2, 8)]
    print()
    print("documents (attachments of 50,000 chars each, plus 2 standing documents from 2 on):")
    print(
        f"{'docs':>6} {'doc chars':>9} {'build ms':>9} {'x base':>7} "
        f"{'prompt chars':>12} {'tokens':>7} {'x base':>7} {'est. USD':>9}"
    )
    first = docs[0][0]
    for n, (r, output_tokens) in zip((0, 4, 10), docs, strict=True):
        cost = prices.cost(Usage(r.tokens, output_tokens))
        print(
            f"{n:>6} {r.document_chars:>9} {r.seconds * 1000:>9.1f} "
            f"{r.seconds / first.seconds:>7.2f} {r.chars:>12} {r.tokens:>7} "
            f"{r.tokens / first.tokens:>7.2f} {cost:>9.5f}"
        )
    print(
        f"cost at {settings.vertex_model} list prices: ${prices.input_per_million}/M input, "
        f"${prices.output_per_million}/M output tokens; output estimated from an offline answer"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
