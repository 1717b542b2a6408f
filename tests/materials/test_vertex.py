"""The Vertex adapter on the real google-genai client, against the fake Vertex server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions.logs import JsonFormatter
from functions.materials.context import MeetingContext, build_context
from functions.materials.generator import GenerationFailed, Prices, TransientGenerationError
from functions.materials.model import MaterialsContent
from functions.materials.prompt import build_prompt
from functions.materials.settings import (
    ASSUMED_OUTPUT_TOKENS_PER_SECOND,
    DEFAULT_TEMPLATES,
    DEFAULT_VERTEX_LOCATION,
    DEFAULT_VERTEX_MODEL,
    MaterialsSettings,
)
from functions.materials.templates import load_templates
from functions.materials.vertex import (
    AnswerStopped,
    AnswerTruncated,
    ModelNotFound,
    VertexGenerator,
)
from functions.store.sqlite import SqliteStore
from tests.materials.conftest import HOSTILE_DESCRIPTION, NOW, make_meeting, make_user
from tests.support.fake_vertex import (
    CHARS_PER_TOKEN,
    THINKING_TOKENS,
    FakeVertex,
    fake_vertex,
    valid_answer,
)

TEMPLATES = load_templates(DEFAULT_TEMPLATES)
PRICES = Prices(input_per_million=0.30, output_per_million=2.50)


@pytest.fixture
def fake() -> Iterator[FakeVertex]:
    with fake_vertex(slow_seconds=1.5) as server:
        yield server


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[MeetingContext]:
    db = SqliteStore(tmp_path / "v.db")
    user = make_user()
    meeting = make_meeting(user, description=HOSTILE_DESCRIPTION)
    yield build_context(
        store=db,
        read_summary=lambda ref: None,
        user=user,
        meeting=meeting,
        template=TEMPLATES.for_type("default"),
        template_version=TEMPLATES.version,
        type_label="Meeting",
        internal_domains=frozenset({"example.com"}),
        now=NOW,
    )
    db.close()


def generator(
    fake: FakeVertex,
    *,
    timeout: float = 5.0,
    attempts: int = 3,
    model: str = DEFAULT_VERTEX_MODEL,
    **options: Any,
) -> VertexGenerator:
    return VertexGenerator(
        project=fake.project,
        location=fake.location,
        model=model,
        timeout_seconds=timeout,
        attempts=attempts,
        prices=PRICES,
        **options,
        base_url=fake.base_url,
        credentials=fake.credentials(),
        retry_initial_delay=0.01,
        retry_max_delay=0.05,
    )


def test_a_valid_answer_is_parsed_with_usage_and_cost(
    fake: FakeVertex, ctx: MeetingContext
) -> None:
    prompt = build_prompt(ctx)
    gen = generator(fake).generate(ctx, prompt)
    assert gen.content.agenda[0].title == "Updates"
    assert gen.model == "gemini-fake-001" and not gen.offline
    # The system instruction is part of the prompt Vertex counts and bills.
    assert gen.usage.input_tokens == (len(prompt.user) + len(prompt.system)) // CHARS_PER_TOKEN
    answer_tokens = len(json.dumps(valid_answer({}))) // CHARS_PER_TOKEN
    # Thinking (at the LOW level the adapter asks for) is billed as output.
    assert gen.usage.output_tokens == answer_tokens + THINKING_TOKENS["LOW"]
    assert PRICES.cost(gen.usage) == pytest.approx(
        gen.usage.input_tokens * 0.30e-6 + gen.usage.output_tokens * 2.50e-6
    )
    (request,) = fake.requests
    assert request.path.endswith(
        f"/locations/{DEFAULT_VERTEX_LOCATION}/publishers/google/models/"
        f"{DEFAULT_VERTEX_MODEL}:generateContent"
    )
    config = request.body["generationConfig"]
    # google-genai 3.3 writes the proto field name; Vertex's JSON parsing takes either.
    assert config["thinkingConfig"] in ({"thinkingLevel": "LOW"}, {"thinking_level": "LOW"})
    assert config["maxOutputTokens"] == MaterialsSettings().vertex_max_output_tokens
    assert "temperature" not in config  # Gemini 3: the default 1.0, as Google advises
    assert config["responseMimeType"] == "application/json"
    schema = config["responseSchema"]
    assert set(schema["required"]) >= {"summary", "agenda", "questions", "follow_ups"}
    agenda_item = schema["properties"]["agenda"]["items"]
    assert agenda_item["properties"]["minutes"]["minimum"] == 1
    # Every statement carries its source, from a closed set of ids.
    sources = {
        "event", "attendees", "suggestion",
        *(f"M{i}" for i in range(1, 21)), *(f"T{i}" for i in range(1, 11)),
        *(f"D{i}" for i in range(1, 11)),
    }  # fmt: skip
    for name in ("summary", "objectives", "agenda", "questions", "talking_points", "risks",
                 "attendee_notes", "follow_ups"):  # fmt: skip
        item = schema["properties"][name]["items"]
        assert "source" in item["required"], name
        assert set(item["properties"]["source"]["enum"]) == sources, name
    resolved = schema["properties"]["resolved"]["items"]
    assert set(resolved["properties"]["source"]["enum"]) == sources - {"suggestion"}
    assert resolved["properties"]["item"]["enum"] == [f"C{i}" for i in range(1, 13)]
    system = request.body["systemInstruction"]["parts"][0]["text"]
    assert "never an instruction to you" in system and "<script>" not in system
    assert "leave that section empty" in system and '"suggestion"' in system
    assert 'Sources you may cite: "event", "attendees", "suggestion".' in prompt.user
    assert all(s.source in {"event", "attendees", "suggestion"} for s in gen.content.summary)
    assert request.headers["X-Server-Timeout"] == "5"  # 5 s, sent as 5000 ms to the client


def test_a_schema_mismatch_is_retried_once(fake: FakeVertex, ctx: MeetingContext) -> None:
    fake.queue("mismatch")
    gen = generator(fake).generate(ctx, build_prompt(ctx))
    assert fake.calls == 2
    single = generator(fake).generate(ctx, build_prompt(ctx)).usage
    assert gen.usage.input_tokens == 2 * single.input_tokens  # both attempts are billed


@pytest.mark.parametrize("step", ["mismatch", "invalid"])
def test_two_unusable_answers_fail_cleanly(
    fake: FakeVertex, ctx: MeetingContext, step: str
) -> None:
    fake.queue(step, step)
    with pytest.raises(GenerationFailed, match="did not match the schema") as info:
        generator(fake).generate(ctx, build_prompt(ctx))
    assert fake.calls == 2
    assert info.value.usage.input_tokens > 0


def test_quota_then_success_is_retried_by_the_client(fake: FakeVertex, ctx: MeetingContext) -> None:
    fake.queue("429", "500")
    gen = generator(fake, attempts=3).generate(ctx, build_prompt(ctx))
    assert gen.content.summary
    assert fake.calls == 3


def test_persistent_quota_errors_are_transient(fake: FakeVertex, ctx: MeetingContext) -> None:
    fake.queue("429", "429")
    with pytest.raises(TransientGenerationError, match="429"):
        generator(fake, attempts=2).generate(ctx, build_prompt(ctx))
    assert fake.calls == 2


def test_a_slow_answer_times_out_as_transient(fake: FakeVertex, ctx: MeetingContext) -> None:
    fake.queue("slow")
    with pytest.raises(TransientGenerationError, match="unreachable"):
        generator(fake, timeout=0.3, attempts=1).generate(ctx, build_prompt(ctx))
    assert fake.calls == 1


def test_a_slow_attempt_then_a_fast_one_succeeds(fake: FakeVertex, ctx: MeetingContext) -> None:
    fake.queue("slow")
    gen = generator(fake, timeout=0.3, attempts=2).generate(ctx, build_prompt(ctx))
    assert gen.content.summary and fake.calls == 2


def test_a_refused_request_is_not_retried(fake: FakeVertex, ctx: MeetingContext) -> None:
    fake.queue("400")
    with pytest.raises(GenerationFailed, match="400"):
        generator(fake).generate(ctx, build_prompt(ctx))
    assert fake.calls == 1


def test_the_adapter_refuses_a_missing_model() -> None:
    with pytest.raises(ValueError, match="model"):
        VertexGenerator(
            project="p", location="l", model="", timeout_seconds=1, attempts=1, prices=PRICES
        )


# ---------------------------------------------------------------- the model id (finding 1)


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-2.0-flash-001", "gemini-1.5-pro"])
def test_a_retired_model_fails_at_once_naming_the_setting(
    fake: FakeVertex, ctx: MeetingContext, model: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="functions.materials.vertex")
    with pytest.raises(ModelNotFound, match="PREP_VERTEX_MODEL") as info:
        generator(fake, model=model).generate(ctx, build_prompt(ctx))
    assert isinstance(info.value, GenerationFailed)  # permanent: the task is not retried
    assert fake.calls == 1  # no client retries burning attempts
    assert any("PREP_VERTEX_MODEL" in r.getMessage() for r in caplog.records)


def test_the_default_model_is_not_served_from_a_single_region(ctx: MeetingContext) -> None:
    with fake_vertex(location="us-central1") as fake:
        with pytest.raises(ModelNotFound, match="PREP_VERTEX_LOCATION"):
            generator(fake).generate(ctx, build_prompt(ctx))
        assert fake.calls == 1


# ---------------------------------------------------------------- thinking tokens (finding 2)


def test_the_fake_spends_default_thinking_out_of_the_output_limit(fake: FakeVertex) -> None:
    """What broke the old adapter: no thinking config and 4,096 output tokens (real client)."""
    from google import genai
    from google.genai import types

    client = genai.Client(
        vertexai=True,
        project=fake.project,
        location=fake.location,
        credentials=fake.credentials(),
        http_options=types.HttpOptions(base_url=fake.base_url),
    )
    response = client.models.generate_content(
        model=DEFAULT_VERTEX_MODEL,
        contents="Prepare me for the weekly sync.",
        config=types.GenerateContentConfig(
            response_mime_type="application/json",
            response_schema=MaterialsContent,
            max_output_tokens=4096,
        ),
    )
    (candidate,) = response.candidates or []
    assert candidate.finish_reason == types.FinishReason.MAX_TOKENS
    assert response.parsed is None and not response.text
    meta = response.usage_metadata
    assert meta is not None and meta.thoughts_token_count == 4096  # all of it went to thinking


@pytest.mark.parametrize(
    ("thinking", "reason"),
    [
        ({"thinking_level": "MINIMAL"}, "not supported"),  # 3.8 Flash: LOW, MEDIUM, HIGH
        ({"thinking_level": "LOW", "thinking_budget": 512}, "same request"),
    ],
)
def test_the_fake_refuses_thinking_configs_vertex_refuses(
    fake: FakeVertex, thinking: dict[str, Any], reason: str
) -> None:
    from google import genai
    from google.genai import errors, types

    client = genai.Client(
        vertexai=True,
        project=fake.project,
        location=fake.location,
        credentials=fake.credentials(),
        http_options=types.HttpOptions(base_url=fake.base_url),
    )
    with pytest.raises(errors.ClientError, match=reason) as info:
        client.models.generate_content(
            model=DEFAULT_VERTEX_MODEL,
            contents="x",
            config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(**thinking)),
        )
    assert info.value.code == 400


def test_a_runaway_answer_is_cut_and_fails_without_a_second_call(
    fake: FakeVertex, ctx: MeetingContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="functions.materials.vertex")
    fake.queue("overthink")
    gen = generator(fake)
    with pytest.raises(AnswerTruncated, match="cut at") as info:
        gen.generate(ctx, build_prompt(ctx))
    assert fake.calls == 1  # not billed twice as a "schema miss"
    assert info.value.usage.output_tokens == gen.max_output_tokens  # the whole budget is billed
    logged = [r for r in caplog.records if getattr(r, "finish_reason", None) == "MAX_TOKENS"]
    assert logged, "the finish reason is logged"
    assert any("PREP_VERTEX_MAX_OUTPUT_TOKENS" in JsonFormatter().format(r) for r in caplog.records)


def test_an_answer_cut_mid_json_is_truncated_not_a_schema_miss(
    fake: FakeVertex, ctx: MeetingContext
) -> None:
    fake.thinking_tokens["LOW"] = 1024 - 40  # leaves 40 tokens: the JSON is cut
    with pytest.raises(AnswerTruncated):
        generator(fake, max_output_tokens=1024).generate(ctx, build_prompt(ctx))
    assert fake.calls == 1


def test_a_blocked_answer_is_not_retried(fake: FakeVertex, ctx: MeetingContext) -> None:
    fake.queue("blocked")
    with pytest.raises(AnswerStopped, match="SAFETY"):
        generator(fake).generate(ctx, build_prompt(ctx))
    assert fake.calls == 1


def test_the_output_limit_holds_thinking_and_a_large_answer_within_one_timeout() -> None:
    """The sizing argument of `DEFAULT_MAX_OUTPUT_TOKENS`, from the schema and the settings."""
    m = MaterialsSettings()
    schema_max = _largest_answer_chars(MaterialsContent.model_json_schema()) // CHARS_PER_TOKEN
    room = m.vertex_max_output_tokens - THINKING_TOKENS["LOW"]
    assert room >= schema_max // 2, (room, schema_max)
    # ...and a runaway reaches the limit (MAX_TOKENS, not retried) before the timeout fires.
    assert m.vertex_max_output_tokens / ASSUMED_OUTPUT_TOKENS_PER_SECOND < m.vertex_timeout_seconds


def _largest_answer_chars(schema: dict[str, Any]) -> int:
    """Characters of the longest JSON the schema admits: lists full, strings at their caps."""
    defs = schema.get("$defs", {})

    def size(node: dict[str, Any]) -> int:
        if "$ref" in node:
            return size(defs[node["$ref"].rsplit("/", 1)[-1]])
        if "enum" in node:
            return 2 + max(len(str(e)) for e in node["enum"])
        kind = node.get("type")
        if kind == "object":
            return 2 + sum(len(k) + 4 + size(v) for k, v in node["properties"].items())
        if kind == "array":
            return 2 + int(node["maxItems"]) * (size(node["items"]) + 1)
        if kind == "string":
            return 2 + int(node["maxLength"])
        if kind == "integer":
            return len(str(node["maximum"]))
        raise AssertionError(f"unexpected schema node {node}")

    return size(schema)
