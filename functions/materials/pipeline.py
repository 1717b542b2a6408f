"""From a stored meeting to stored materials: context, cache key, generation, rendering.

The context includes what the context sources the user turned on found (the
recent mail threads, `mail_context.gather_mail`; the documents, read through
the root's `documents_for` and only while the grant covers their scope,
`document_sources_for`), or a note saying why a source was not used; all
are part of the canonical context.

The cache key is sha256 of the canonical context, the template version and
the generator id. Identical input finds the objects already stored and makes
no model call. Documents are part of the context (their text and content
hash), so an edited attachment or new notes make new materials, and
unchanged ones cost a Drive read but no model call. "Regenerate" must give
new materials even when nothing changed, so when the meeting's current
materials were made from this very input, the key gets a suffix derived
from the previous ref: a new object set, yet deterministic, so a duplicate
delivery of the same regenerate task still lands on the same key (and on
the cache).

Before anything is rendered, the answer is cleaned (control characters,
unknown links) and checked against the context (`citations`): statements
that cite a source the context does not hold are dropped; agenda time boxes
are brought to multiples of 5 minutes (same order and total). The summary record
written beside the document carries the open items forward to the next
occurrence of a series (`carry_over`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from functions.domain.meetings import Meeting
from functions.domain.users import User
from functions.logs import log
from functions.materials.carry_over import summary_record
from functions.materials.citations import check_against_context
from functions.materials.context import MeetingContext, build_context
from functions.materials.documents.gather import DocumentSources
from functions.materials.generator import Generation, Generator
from functions.materials.mail_context import MailFacts, gather_mail
from functions.materials.model import GenerationInfo
from functions.materials.offline import round_time_boxes
from functions.materials.prompt import Prompt, build_prompt
from functions.materials.render import render_html, render_markdown, shared_agenda
from functions.materials.storage import (
    MaterialsObjects,
    MaterialsStorage,
    materials_ref,
    object_metadata,
)

if TYPE_CHECKING:
    from functions.materials.deps import MaterialsDeps

_log = logging.getLogger(__name__)

_KEY_CHARS = 40


@dataclass(frozen=True, slots=True)
class Prepared:
    context: MeetingContext
    prompt: Prompt
    key: str
    ref: str


def cache_key(ctx: MeetingContext, generator_id: str, previous_ref: str | None) -> str:
    material = "\x1f".join([ctx.canonical_json(), ctx.template_version, generator_id])
    base = hashlib.sha256(material.encode()).hexdigest()[:_KEY_CHARS]
    previous_key = (previous_ref or "").rpartition("/")[2]
    if previous_ref and previous_key.startswith(base):
        return f"{base}-r{hashlib.sha256(previous_ref.encode()).hexdigest()[:8]}"
    return base


def mail_facts(services: MaterialsDeps, user: User, meeting: Meeting) -> MailFacts:
    """The mail threads for this meeting, or the note why there are none.

    The grant is unsealed only when the user turned mail on and the source needs it.
    """
    from functions.delegation.access import granted_scopes
    from functions.domain.users import ContextSource

    source = services.mail_threads
    wanted = ContextSource.MAIL in user.preferences.context_sources
    granted = (
        granted_scopes(services.credentials, user.user_id)
        if wanted and source.needs_grant
        else None
    )
    return gather_mail(
        source=source, user=user, meeting=meeting, granted=granted, now=services.clock.now()
    )


def document_sources_for(
    services: MaterialsDeps, user: User, meeting: Meeting
) -> tuple[DocumentSources | None, str]:
    """Where documents are read from, or None and the note saying why they are not.

    The root's `documents_for` decides on the switch; a reader that needs the
    user's grant (Drive) is used only when the grant covers `drive.readonly`
    too, as for mail: a user who turned documents on but closed the consent
    page gets the "access is not allowed yet" note, and Drive is never called
    with a token that lacks the scope (each file would read as "no access").
    """
    from functions.delegation.access import granted_scopes
    from functions.domain.users import ContextSource
    from functions.materials.sources import STATE_NOTES, SourceState, source_note, source_state

    sources = services.documents_for(user, meeting.meeting_type)
    if sources is None or not sources.needs_grant:
        return sources, ""
    granted = granted_scopes(services.credentials, user.user_id)
    state = source_state(user.preferences, ContextSource.DOCUMENTS, granted)
    if state is SourceState.ON:
        return sources, ""
    return None, source_note(ContextSource.DOCUMENTS, STATE_NOTES[state])


def prepare(services: MaterialsDeps, user: User, meeting: Meeting) -> Prepared:
    """Build the bounded context and prompt and decide where the result lives.

    Documents are read here (as the user); `DocumentsUnavailable` means Drive
    failed for now and the task retries.
    """
    templates = services.prep_templates
    storage = services.materials_storage
    rules = services.classifier.rules
    documents, documents_note = document_sources_for(services, user, meeting)
    ctx = build_context(
        store=services.store,
        read_summary=storage.read_summary,
        user=user,
        meeting=meeting,
        template=templates.for_type(meeting.meeting_type),
        template_version=templates.version,
        type_label=rules.label_of(meeting.meeting_type),
        internal_domains=services.classifier.internal_domains_for(user.domains),
        now=services.clock.now(),
        mail=mail_facts(services, user, meeting),
        documents=documents,
        documents_note=documents_note,
    )
    key = cache_key(ctx, services.generator.generator_id, meeting.materials_ref)
    return Prepared(
        context=ctx,
        prompt=build_prompt(ctx),
        key=key,
        ref=materials_ref(user.user_id, meeting.event_id, key),
    )


def store_materials(
    *,
    storage: MaterialsStorage,
    prepared: Prepared,
    generation: Generation,
    generator: Generator,
    services: MaterialsDeps,
    meeting: Meeting,
) -> GenerationInfo:
    """Clean and check the content, render both formats and upload them (HTML last)."""
    ctx = prepared.context
    checked = check_against_context(generation.content.cleaned(ctx.allowed_urls()), ctx)
    if checked.rejected or checked.ignored_resolutions:
        log(
            _log,
            logging.WARNING,
            "statements citing unknown sources dropped",
            user_id=meeting.user_id,
            rejected=checked.rejected,
            ignored_resolutions=checked.ignored_resolutions,
            generator=generator.generator_id,
        )
    # Time boxes in fives whichever generator planned them.
    content = checked.content.model_copy(
        update={"agenda": round_time_boxes(checked.content.agenda)}
    )
    info = GenerationInfo(
        generator=generator.generator_id,
        model=generation.model,
        offline=generation.offline,
        input_tokens=generation.usage.input_tokens,
        output_tokens=generation.usage.output_tokens,
        cost_usd=generator.prices.cost(generation.usage),
        template_version=ctx.template_version,
        cache_key=prepared.key,
        generated_at=services.clock.now(),
        rejected_statements=checked.rejected,
    )
    summary = summary_record(
        ctx,
        content,
        meeting_start=meeting.start,
        generator=generator.generator_id,
        generated_at=info.generated_at,
    ).model_copy(update={"agenda": shared_agenda(content, ctx)})
    storage.put(
        prepared.ref,
        MaterialsObjects(
            html=render_html(ctx, content, info),
            markdown=render_markdown(ctx, content, info),
            summary=summary,
            metadata=object_metadata(info),
        ),
    )
    return info
