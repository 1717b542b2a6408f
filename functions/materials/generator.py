"""The generator port: a context and its prompt in, structured materials out.

Two adapters: `vertex.VertexGenerator` (Gemini through google-genai) in
production and `offline.OfflineGenerator` for the embedded default. Errors
are split by what the caller should do: `TransientGenerationError` (quota,
5xx, timeout: retry the task later) and `GenerationFailed` (the model
answered but not usefully, or refused: retrying now will not help), the
`TransientError` and `PermanentError` of `functions.errors`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from functions.errors import PermanentError, TransientError
from functions.materials.context import MeetingContext
from functions.materials.model import MaterialsContent
from functions.materials.prompt import Prompt


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens
        )


class GenerationError(Exception):
    """Generation did not produce materials. The message is for logs, never for users."""

    def __init__(self, message: str, *, usage: Usage | None = None) -> None:
        super().__init__(message)
        #: Tokens spent before failing (billed all the same).
        self.usage = usage or Usage()


class TransientGenerationError(GenerationError, TransientError):
    """Quota, server error or timeout: the same request may succeed later."""


class GenerationFailed(GenerationError, PermanentError):
    """The model answered, but not with valid materials (or refused the request)."""


@dataclass(frozen=True, slots=True)
class Prices:
    """Price per one million tokens, in US dollars (from configuration)."""

    input_per_million: float = 0.0
    output_per_million: float = 0.0

    def cost(self, usage: Usage) -> float:
        return round(
            usage.input_tokens * self.input_per_million / 1e6
            + usage.output_tokens * self.output_per_million / 1e6,
            9,
        )


@dataclass(frozen=True, slots=True)
class Generation:
    content: MaterialsContent
    model: str
    usage: Usage
    offline: bool


class Generator(ABC):
    #: Part of the cache key: another generator (or model) means other materials.
    generator_id: str
    #: Whether a generation costs money (and so counts against the daily cap).
    metered: bool
    prices: Prices = Prices()

    @abstractmethod
    def generate(self, context: MeetingContext, prompt: Prompt) -> Generation:
        """Produce materials; raises `TransientGenerationError` or `GenerationFailed`."""
