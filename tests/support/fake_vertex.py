"""A fake Vertex AI `generateContent` endpoint that the real google-genai client talks to.

It answers where the real service does, POST /v1beta1/projects/{project}/
locations/{location}/publishers/google/models/{model}:generateContent, with
the real response shape (candidates, usageMetadata, modelVersion) and
Google's error shape. As strict as the service on what the adapter depends on:

- Models: only the ids in `MODELS` exist, each at the locations Google serves
  it from. Retired ids (Gemini 1.x, 2.0, 2.5) and unknown ones answer 404
  NOT_FOUND with Vertex AI's "Publisher Model ... was not found" message, as
  does a model asked for at a location that does not serve it
  (gemini-3.8-flash is global and multi-region only).
- Thinking: Gemini 3 models think by default, and thinking tokens are spent
  out of `maxOutputTokens` before the answer. A request without a thinking
  configuration thinks at the model's default level (MEDIUM for 3.8 Flash),
  which takes `thinking_tokens["MEDIUM"]` tokens. When thinking and answer
  do not fit, the answer is cut (or empty, with no parts, when the thinking
  alone used the budget) and `finishReason` is MAX_TOKENS, as on Vertex.
  `thinkingLevel` together with `thinkingBudget` is refused (400), as is a
  level the model does not accept (3.8 Flash has no MINIMAL), and a
  `maxOutputTokens` above the model's limit (65,536).
- Usage: `usageMetadata` has promptTokenCount, candidatesTokenCount,
  thoughtsTokenCount and totalTokenCount (4 characters per token here).

Each request takes the next scripted step, or the default step when the
script is empty:

- "valid":    JSON text that matches the response schema
- "mismatch": JSON that breaks the schema (a time box of 0 minutes): parsed is None
- "bad_source": a statement whose source is not a well-formed id: parsed is None
- "invalid":  text that is not JSON at all: parsed is None
- "overthink": the model thinks until the whole output budget is gone (a
  runaway even at a low level): empty answer, MAX_TOKENS
- "blocked":  finishReason SAFETY with no content
- "429" / "500" / "400": an error status with Google's error body (429 is
  RESOURCE_EXHAUSTED, what Vertex answers when the shared quota is short)
- "slow":     waits `slow_seconds` before a valid answer (client timeouts)

The client needs `google.oauth2.credentials.Credentials(token=...)` (anonymous
credentials fail) and explicit project and location with a custom base URL.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback import serve_loopback

PATH_RE = re.compile(
    r"^/v1beta1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/publishers/google/models/(?P<model>[^/:]+):generateContent$"
)
TOKEN = "fake-vertex-token"
#: 4 characters per token, for prompt, answer and cut alike.
CHARS_PER_TOKEN = 4
#: Regions that serve the older (3.5 and earlier) Gemini 3 models as well as global.
_REGIONS = frozenset({"global", "us", "eu", "us-central1", "us-east4", "europe-west1",
                      "europe-west4", "asia-northeast1"})  # fmt: skip


@dataclass(frozen=True)
class FakeModel:
    """What one Gemini model accepts: thinking levels, default level, locations, output limit."""

    levels: frozenset[str]
    default_level: str
    locations: frozenset[str]
    max_output_tokens: int = 65_536


#: The models that exist here; everything else is 404 like a retired or unknown id.
MODELS: dict[str, FakeModel] = {
    # Gemini 3.8 Flash: global and multi-region only; LOW, MEDIUM (default), HIGH.
    "gemini-3.8-flash": FakeModel(
        frozenset({"LOW", "MEDIUM", "HIGH"}), "MEDIUM", frozenset({"global", "us", "eu"})
    ),
    "gemini-3.5-flash": FakeModel(
        frozenset({"MINIMAL", "LOW", "MEDIUM", "HIGH"}), "MEDIUM", _REGIONS
    ),
}

#: Thinking tokens a (meeting-prep sized) request spends at each level. Google publishes no
#: numbers; these are of the order reported for Flash models, and MEDIUM alone is more than
#: the 4,096 output tokens the adapter once allowed, which is what broke it.
THINKING_TOKENS: dict[str, int] = {"MINIMAL": 64, "LOW": 700, "MEDIUM": 6_000, "HIGH": 14_000}


def valid_answer(request: dict[str, Any]) -> dict[str, Any]:
    """A schema-valid answer that quotes nothing from the request (like a careful model).

    Facts cite only `event` and `attendees` (which every test context has);
    the rest is marked as suggestion. The link in a talking point is not in
    any context, so the materials must remove it.
    """

    def say(text: str, source: str = "suggestion") -> dict[str, str]:
        return {"text": text, "source": source}

    return {
        "summary": [say("A short weekly check-in to unblock the team.", "event")],
        "objectives": [say("Agree on next steps")],
        "agenda": [
            {"title": "Updates", "minutes": 10, "source": "suggestion"},
            {"title": "Blockers", "minutes": 15, "source": "suggestion"},
            {"title": "Next steps", "minutes": 5, "source": "suggestion"},
        ],
        "questions": [say("What is blocking the launch?")],
        "talking_points": [
            say("Thank the team for the release"),
            say("The plan is at https://phish.example/login", "event"),
        ],
        "risks": [say("The launch date may slip")],
        "attendee_notes": [
            {"attendee": "Sam", "note": "Organizes this meeting", "source": "attendees"}
        ],
        "follow_ups": [say("Send the revised plan")],
        "resolved": [],
    }


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeVertex:
    port: int = 0
    project: str = "test-project"
    location: str = "global"
    default_step: str = "valid"
    thinking_tokens: dict[str, int] = field(default_factory=lambda: dict(THINKING_TOKENS))
    slow_seconds: float = 2.0
    answer: Callable[[dict[str, Any]], dict[str, Any]] = valid_answer
    script: deque[str] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def calls(self) -> int:
        with self.lock:
            return len(self.requests)

    def queue(self, *steps: str) -> None:
        with self.lock:
            self.script.extend(steps)

    def next_step(self) -> str:
        with self.lock:
            return self.script.popleft() if self.script else self.default_step

    def credentials(self) -> Any:
        from google.oauth2.credentials import Credentials

        return Credentials(token=TOKEN)


def _error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


def model_not_found(project: str, location: str, model: str) -> dict[str, Any]:
    """Vertex AI's answer for a retired, unknown or not-here model id."""
    name = f"projects/{project}/locations/{location}/publishers/google/models/{model}"
    return _error(
        404,
        "NOT_FOUND",
        f"Publisher Model `{name}` was not found or your project does not have access to it. "
        "Please ensure you are using a valid model version. For more information, see: "
        "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions",
    )


def _field(message: dict[str, Any], camel: str, snake: str) -> Any:
    """A field by either JSON name: proto3 JSON parsing accepts both, and google-genai 3.3
    sends `thinkingConfig` with its snake_case field names."""
    return message.get(camel, message.get(snake))


def thinking_for(fake: FakeVertex, model: FakeModel, config: dict[str, Any]) -> int | str:
    """Thinking tokens this request spends, or the INVALID_ARGUMENT message refusing it."""
    thinking = _field(config, "thinkingConfig", "thinking_config") or {}
    level = _field(thinking, "thinkingLevel", "thinking_level")
    budget = _field(thinking, "thinkingBudget", "thinking_budget")
    if level is not None and budget is not None:
        return "thinking_level and thinking_budget cannot be set in the same request"
    if level is not None:
        level = str(level).upper()
        if level not in model.levels:
            return f"thinking level {level} is not supported by this model"
        return fake.thinking_tokens[level]
    default = fake.thinking_tokens[model.default_level]
    if budget is not None and int(budget) >= 0:
        return min(int(budget), default)
    return default


def _handler(fake: FakeVertex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)  # fails when the client gave up (timeout)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            match = PATH_RE.match(self.path)
            if match is None:
                self._send(404, _error(404, "NOT_FOUND", "no such method"))
                return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, _error(401, "UNAUTHENTICATED", "missing credentials"))
                return
            if match["project"] != fake.project or match["location"] != fake.location:
                self._send(404, _error(404, "NOT_FOUND", "unknown project or location"))
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(400, _error(400, "INVALID_ARGUMENT", "body is not JSON"))
                return
            with fake.lock:
                fake.requests.append(Recorded(self.path, body, dict(self.headers.items())))
            project, location, name = match["project"], match["location"], match["model"]
            model = MODELS.get(name)
            if model is None or location not in model.locations:
                self._send(404, model_not_found(project, location, name))
                return
            config = body.get("generationConfig") or {}
            limit = int(
                _field(config, "maxOutputTokens", "max_output_tokens") or model.max_output_tokens
            )
            if not 1 <= limit <= model.max_output_tokens:
                message = (
                    f"The maxOutputTokens value of {limit} is outside the supported range "
                    f"from 1 (inclusive) to {model.max_output_tokens + 1} (exclusive)"
                )
                self._send(400, _error(400, "INVALID_ARGUMENT", message))
                return
            thoughts = thinking_for(fake, model, config)
            if isinstance(thoughts, str):
                self._send(400, _error(400, "INVALID_ARGUMENT", thoughts))
                return
            step = fake.next_step()
            if step in ("429", "500", "400"):
                status = {"429": "RESOURCE_EXHAUSTED", "500": "INTERNAL", "400": "INVALID_ARGUMENT"}
                self._send(int(step), _error(int(step), status[step], "scripted failure"))
                return
            if step == "slow":
                time.sleep(fake.slow_seconds)
            if step == "overthink":
                thoughts = limit
            answer = fake.answer(body)
            if step == "mismatch":
                answer["agenda"] = [{"title": "Updates", "minutes": 0, "source": "suggestion"}]
            if step == "bad_source":
                answer["risks"] = [{"text": "Trust me", "source": "my memory"}]
            text = "Sure! Here are your materials:" if step == "invalid" else json.dumps(answer)
            prompt_chars = sum(
                len(p.get("text", "")) for c in body.get("contents", []) for p in c.get("parts", [])
            )
            prompt_chars += sum(
                len(p.get("text", ""))
                for p in (body.get("systemInstruction") or {}).get("parts", [])
            )
            thoughts = min(thoughts, limit)  # thinking is cut by the budget too
            room = limit - thoughts
            finish = "STOP"
            if step == "blocked":
                text, finish = "", "SAFETY"
            elif len(text) // CHARS_PER_TOKEN > room:
                text, finish = text[: room * CHARS_PER_TOKEN], "MAX_TOKENS"
            candidate: dict[str, Any] = {"content": {"role": "model"}, "finishReason": finish}
            if text:
                candidate["content"]["parts"] = [{"text": text}]
            prompt_tokens = prompt_chars // CHARS_PER_TOKEN
            answer_tokens = len(text) // CHARS_PER_TOKEN
            usage = {
                "promptTokenCount": prompt_tokens,
                "thoughtsTokenCount": thoughts,
                "totalTokenCount": prompt_tokens + answer_tokens + thoughts,
            }
            if answer_tokens:
                usage["candidatesTokenCount"] = answer_tokens
            self._send(
                200,
                {
                    "candidates": [candidate],
                    "usageMetadata": usage,
                    "modelVersion": "gemini-fake-001",
                },
            )

    return Handler


@contextmanager
def fake_vertex(**options: Any) -> Iterator[FakeVertex]:
    fake = FakeVertex(**options)
    with serve_loopback(_handler(fake), "fake-vertex") as url:
        fake.port = int(url.rpartition(":")[2])
        yield fake
