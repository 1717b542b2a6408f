"""Hypothesis strategies for hostile input, and the suite's bounded, deterministic settings.

Examples are derandomized (the same inputs every run, so a failure is
reproducible and the suite is deterministic) and bounded (the whole fuzz
suite runs in well under a minute). For a longer, randomized hunt:

    PREP_FUZZ_EXAMPLES=2000 PREP_FUZZ_RANDOM=1 .venv/bin/python -m pytest tests/fuzz
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

_EXAMPLES = int(os.environ.get("PREP_FUZZ_EXAMPLES", "60"))
_RANDOM = os.environ.get("PREP_FUZZ_RANDOM", "") == "1"


def fuzz_settings(examples: int = _EXAMPLES) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=not _RANDOM,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


#: Text that has broken parsers, stores, loggers and renderers somewhere before.
EDGE_TEXT = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\ud83d",  # half of an emoji
    "😀",
    "\u202eevil\u202c",  # right-to-left override
    "\u200b\u200c\u200d\ufeff",  # zero-width characters, byte-order mark
    "مرحبا بالعالم",
    "\r\nX-Injected: yes",
    "<script>alert(1)</script>",
    "\"'><img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "{{7*7}}${7*7}",
    "../../etc/passwd",
    "%00%2e%2e%2f",
    "users/",
    "users/../x",
    "9" * 40,
    "-1",
    "1e309",
    "x" * 9000,
)

edge_text = st.one_of(
    st.sampled_from(EDGE_TEXT),
    st.text(
        alphabet=st.characters(exclude_categories=()),  # surrogates and controls included
        max_size=40,
    ),
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    edge_text,
)

json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(edge_text, inner, max_size=4),
    ),
    max_leaves=12,
)

#: Bodies that are not usable JSON, or JSON that is not an object: always refused.
MALFORMED_BODIES = (
    b"",
    b"{",
    b"[]",
    b"null",
    b'"a string"',
    b"12",
    b'{"a": NaN}',
    b"\xff\xfe\x00{",
    b'{"user_id": "\xed\xa0\x80"}',  # a surrogate encoded as (invalid) UTF-8
    b"[" * 50_000 + b"]" * 50_000,  # deeper than any JSON parser recurses
    b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    b'{"k": "\\ud800"}',
    b'{"a": Infinity}',
)


def encode(value: Any, *, ascii_only: bool) -> bytes:
    """JSON bytes of `value`; lone surrogates become \\u escapes or invalid UTF-8."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


bodies = st.one_of(
    st.sampled_from(MALFORMED_BODIES),
    st.binary(max_size=64),
    st.builds(encode, json_values, ascii_only=st.booleans()),
)

header_values = st.one_of(
    st.sampled_from(("", "Bearer", "Bearer ", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "eyJ.x.y")),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
)
