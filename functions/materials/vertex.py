"""Gemini on Vertex AI through google-genai, with a schema-constrained answer.

`google-genai` is the supported SDK (`vertexai.generative_models` is
deprecated and five times slower to import); it is imported on first use so
a cold start that never generates does not pay for it. Retries of 408/429/5xx
and timeouts happen inside the client (`HttpRetryOptions`, bounded attempts
with exponential backoff); what is still failing after them becomes a
`TransientGenerationError` and the task is retried later by the queue.

`response.parsed` is None whenever the answer does not validate against the
schema (or is not JSON at all): google-genai validates the text with the
pydantic model, so a malformed source id is a miss too. Whether a cited
earlier meeting really is in the context is checked later, per statement,
by the pipeline (`citations`), for every generator alike. That is retried once, because sampling may
well produce a valid answer the second time; a second miss is a
`GenerationFailed`. Tokens of every attempt are counted, since every attempt
is billed.
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import TYPE_CHECKING, Any

from functions.logs import log
from functions.materials.context import MeetingContext
from functions.materials.generator import (
    Generation,
    GenerationFailed,
    Generator,
    Prices,
    TransientGenerationError,
    Usage,
)
from functions.materials.model import MaterialsContent
from functions.materials.prompt import Prompt

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.genai import Client

_log = logging.getLogger(__name__)

#: Status codes worth retrying: request timeout, quota, and server-side trouble.
RETRYABLE_CODES = (408, 429, 500, 502, 503, 504)
#: One more call when the answer does not match the schema.
SCHEMA_ATTEMPTS = 2


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Timeouts and connection failures of whichever httpx flavour google-genai uses."""
    found: list[type[BaseException]] = []
    for name in ("httpx2", "httpx"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        found.extend(getattr(module, n) for n in ("TimeoutException", "TransportError"))
    return tuple(found)


class VertexGenerator(Generator):
    metered = True

    def __init__(
        self,
        *,
        project: str,
        location: str,
        model: str,
        timeout_seconds: float,
        attempts: int,
        prices: Prices,
        max_output_tokens: int = 4096,
        temperature: float = 0.3,
        base_url: str | None = None,
        credentials: Credentials | None = None,
        retry_initial_delay: float = 1.0,
        retry_max_delay: float = 20.0,
    ) -> None:
        if not project or not location or not model:
            raise ValueError("Vertex AI needs a project, a location and a model")
        self.project = project
        self.location = location
        self.model = model
        self.timeout_seconds = timeout_seconds
        self.attempts = attempts
        self.prices = prices
        self.max_output_tokens = max_output_tokens
        self.temperature = temperature
        self.base_url = base_url
        self.credentials = credentials
        self.retry_initial_delay = retry_initial_delay
        self.retry_max_delay = retry_max_delay
        self.generator_id = f"vertex:{model}"
        self._client: Client | None = None
        self._lock = threading.Lock()

    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                from google import genai
                from google.genai import types

                http_options = types.HttpOptions(
                    # Project and location are explicit, so a custom base_url still
                    # produces /v1beta1/projects/P/locations/L/... paths.
                    base_url=self.base_url,
                    timeout=int(self.timeout_seconds * 1000),  # milliseconds
                    retry_options=types.HttpRetryOptions(
                        attempts=self.attempts,
                        initial_delay=self.retry_initial_delay,
                        max_delay=self.retry_max_delay,
                        http_status_codes=list(RETRYABLE_CODES),
                    ),
                )
                self._client = genai.Client(
                    vertexai=True,
                    project=self.project,
                    location=self.location,
                    credentials=self.credentials,
                    http_options=http_options,
                )
            return self._client

    def _config(self, prompt: Prompt) -> Any:
        from google.genai import types

        return types.GenerateContentConfig(
            system_instruction=prompt.system,
            response_mime_type="application/json",
            response_schema=MaterialsContent,
            temperature=self.temperature,
            max_output_tokens=self.max_output_tokens,
        )

    def _call(self, prompt: Prompt) -> Any:
        from google.genai import errors

        try:
            return self.client().models.generate_content(
                model=self.model, contents=prompt.user, config=self._config(prompt)
            )
        except errors.APIError as exc:
            if exc.code in RETRYABLE_CODES:
                raise TransientGenerationError(f"vertex answered {exc.code}") from None
            raise GenerationFailed(f"vertex refused the request ({exc.code})") from None
        except _transport_errors() as exc:
            raise TransientGenerationError(f"vertex unreachable ({type(exc).__name__})") from None

    def generate(self, context: MeetingContext, prompt: Prompt) -> Generation:
        usage = Usage()
        for attempt in range(1, SCHEMA_ATTEMPTS + 1):
            try:
                response = self._call(prompt)
            except TransientGenerationError as exc:
                raise TransientGenerationError(str(exc), usage=usage + exc.usage) from None
            except GenerationFailed as exc:
                raise GenerationFailed(str(exc), usage=usage + exc.usage) from None
            meta = response.usage_metadata
            if meta is not None:
                # Thinking tokens are billed as output tokens.
                output = (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)
                usage += Usage(meta.prompt_token_count or 0, output)
            parsed = response.parsed
            if isinstance(parsed, MaterialsContent):
                return Generation(
                    content=parsed,
                    model=response.model_version or self.model,
                    usage=usage,
                    offline=False,
                )
            finish = None
            if response.candidates:
                finish = response.candidates[0].finish_reason
            log(
                _log,
                logging.WARNING,
                "vertex answer did not match the schema",
                attempt=attempt,
                finish_reason=str(finish) if finish else None,
            )
        raise GenerationFailed("vertex answers did not match the schema", usage=usage)
