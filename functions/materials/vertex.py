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
by the pipeline (`citations`), for every generator alike. A complete answer
(finish reason STOP) that misses the schema is retried once, because
sampling may well produce a valid answer the second time; a second miss is a
`GenerationFailed`. Tokens of every attempt are counted, since every attempt
is billed (thinking tokens as output).

Thinking: Gemini 3 models think before they answer, by default at MEDIUM,
and the thinking tokens come out of `max_output_tokens`. The level is set
explicitly (`thinking_level`, LOW by default; Gemini 3 takes a level, not the
2.5 `thinking_budget`) and the output limit leaves room for thinking and a
full answer. An answer cut at the limit (finish reason MAX_TOKENS) is its own
outcome, `AnswerTruncated`, and is not retried: the limit holds thinking at
LOW and an answer several times the size of a rich one (see
`settings.DEFAULT_MAX_OUTPUT_TOKENS`), so a cut means a runaway answer, which
a second call would most likely repeat at twice the cost and time, and in a
task whose dispatch deadline leaves no room for it. The meeting is marked
failed (the card offers "Try again") and the log names the two settings that
size the output. Other stop reasons
(SAFETY, RECITATION, ...) fail the same way, since the same prompt would be
stopped again.

A 404 is a model id Vertex AI does not serve (retired, misspelt, or not at
this location): permanent, not retried by the client or the queue, and the
error log names PREP_VERTEX_MODEL and PREP_VERTEX_LOCATION.
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
from functions.materials.settings import (
    DEFAULT_MAX_OUTPUT_TOKENS,
    RETRY_INITIAL_DELAY,
    RETRY_JITTER,
    RETRY_MAX_DELAY,
    SCHEMA_ATTEMPTS,
)

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.genai import Client

_log = logging.getLogger(__name__)

#: Status codes worth retrying: request timeout, quota, and server-side trouble.
RETRYABLE_CODES = (408, 429, 500, 502, 503, 504)
#: Finish reasons of an answer that was not stopped early.
_COMPLETE = ("STOP", "FINISH_REASON_UNSPECIFIED")


class ModelNotFound(GenerationFailed):
    """Vertex AI does not serve the configured model here (404): a setting to change."""


class AnswerTruncated(GenerationFailed):
    """The answer was cut at `max_output_tokens` (finish reason MAX_TOKENS)."""


class AnswerStopped(GenerationFailed):
    """The model stopped the answer for another reason (SAFETY, RECITATION, ...)."""


def _finish_name(finish: object) -> str | None:
    if finish is None:
        return None
    return str(getattr(finish, "value", finish))


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
        max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS,
        thinking_level: str = "low",
        temperature: float | None = None,
        base_url: str | None = None,
        credentials: Credentials | None = None,
        retry_initial_delay: float = RETRY_INITIAL_DELAY,
        retry_max_delay: float = RETRY_MAX_DELAY,
        retry_jitter: float = RETRY_JITTER,
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
        self.thinking_level = thinking_level.upper()
        #: None leaves the model's default (1.0): Google advises against lowering it for
        #: Gemini 3 (loops, worse reasoning) and 3.6+ ignore it.
        self.temperature = temperature
        self.base_url = base_url
        self.credentials = credentials
        self.retry_initial_delay = retry_initial_delay
        self.retry_max_delay = retry_max_delay
        self.retry_jitter = retry_jitter
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
                        jitter=self.retry_jitter,
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
            thinking_config=types.ThinkingConfig(
                thinking_level=types.ThinkingLevel(self.thinking_level)
            ),
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
            if exc.code == 404:
                log(
                    _log,
                    logging.ERROR,
                    "vertex model not found: change PREP_VERTEX_MODEL (or PREP_VERTEX_LOCATION)",
                    model=self.model,
                    location=self.location,
                    setting="PREP_VERTEX_MODEL",
                )
                raise ModelNotFound(
                    f"vertex has no model {self.model} at {self.location} (404): set "
                    "PREP_VERTEX_MODEL to a current model id (or PREP_VERTEX_LOCATION to "
                    "a location that serves it)"
                ) from None
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
            except GenerationFailed as exc:  # keeps its kind (ModelNotFound, ...)
                raise type(exc)(str(exc), usage=usage + exc.usage) from None
            meta = response.usage_metadata
            thoughts = answer_tokens = 0
            if meta is not None:
                thoughts = meta.thoughts_token_count or 0
                answer_tokens = meta.candidates_token_count or 0
                # Thinking tokens are billed as output tokens.
                usage += Usage(meta.prompt_token_count or 0, answer_tokens + thoughts)
            finish = None
            if response.candidates:
                finish = _finish_name(response.candidates[0].finish_reason)
            parsed = response.parsed
            log(
                _log,
                logging.INFO,
                "vertex answer",
                attempt=attempt,
                finish_reason=finish,
                thoughts_tokens=thoughts,
                answer_tokens=answer_tokens,
                parsed=isinstance(parsed, MaterialsContent),
            )
            if isinstance(parsed, MaterialsContent) and finish in (None, *_COMPLETE):
                return Generation(
                    content=parsed,
                    model=response.model_version or self.model,
                    usage=usage,
                    offline=False,
                )
            if finish == "MAX_TOKENS":
                log(
                    _log,
                    logging.ERROR,
                    "vertex answer cut at max_output_tokens",
                    max_output_tokens=self.max_output_tokens,
                    thinking_level=self.thinking_level,
                    thoughts_tokens=thoughts,
                    answer_tokens=answer_tokens,
                    settings="PREP_VERTEX_MAX_OUTPUT_TOKENS, PREP_VERTEX_THINKING_LEVEL",
                )
                raise AnswerTruncated(
                    f"vertex answer cut at {self.max_output_tokens} output tokens "
                    f"({thoughts} of them thinking)",
                    usage=usage,
                )
            if finish not in (None, *_COMPLETE):
                log(_log, logging.ERROR, "vertex stopped the answer", finish_reason=finish)
                raise AnswerStopped(f"vertex stopped the answer ({finish})", usage=usage)
            log(
                _log,
                logging.WARNING,
                "vertex answer did not match the schema",
                attempt=attempt,
                finish_reason=finish,
            )
        raise GenerationFailed("vertex answers did not match the schema", usage=usage)
