"""A fake Vertex AI `generateContent` endpoint that the real google-genai client talks to.

It answers where the real service does, POST /v1beta1/projects/{project}/
locations/{location}/publishers/google/models/{model}:generateContent, with
the real response shape (candidates, usageMetadata, modelVersion) and
Google's error shape. Each request takes the next scripted step, or the
default step when the script is empty:

- "valid":    JSON text that matches the response schema
- "mismatch": JSON that breaks the schema (a time box of 0 minutes): parsed is None
- "bad_source": a statement whose source is not a well-formed id: parsed is None
- "invalid":  text that is not JSON at all: parsed is None
- "429" / "500" / "400": an error status with Google's error body
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
#: Thinking tokens reported per answer (billed as output by Vertex AI).
THOUGHTS = 40


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
    location: str = "europe-west4"
    default_step: str = "valid"
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
            step = fake.next_step()
            if step in ("429", "500", "400"):
                status = {"429": "RESOURCE_EXHAUSTED", "500": "INTERNAL", "400": "INVALID_ARGUMENT"}
                self._send(int(step), _error(int(step), status[step], "scripted failure"))
                return
            if step == "slow":
                time.sleep(fake.slow_seconds)
            answer = fake.answer(body)
            if step == "mismatch":
                answer["agenda"] = [{"title": "Updates", "minutes": 0, "source": "suggestion"}]
            if step == "bad_source":
                answer["risks"] = [{"text": "Trust me", "source": "my memory"}]
            text = "Sure! Here are your materials:" if step == "invalid" else json.dumps(answer)
            prompt_chars = sum(
                len(p.get("text", "")) for c in body.get("contents", []) for p in c.get("parts", [])
            )
            self._send(
                200,
                {
                    "candidates": [
                        {
                            "content": {"role": "model", "parts": [{"text": text}]},
                            "finishReason": "STOP",
                        }
                    ],
                    "usageMetadata": {
                        "promptTokenCount": prompt_chars // 4,
                        "candidatesTokenCount": len(text) // 4,
                        "thoughtsTokenCount": THOUGHTS,
                        "totalTokenCount": prompt_chars // 4 + len(text) // 4 + THOUGHTS,
                    },
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
