"""Conformance of HTTP requests and responses to Google's discovery documents.

The fake servers stand for Calendar, Gmail and Chat; a fake that accepts what
Google refuses, or answers what Google never sends, hides the adapter's bug.
So every request a fake receives is checked against the discovery document
that ships inside google-api-python-client (the same one the adapters' client
is built from): the method (HTTP verb and path), each parameter's name,
location, type, format, enum, pattern, repetition and bounds, the required
ones, and the JSON body against the method's request schema. Every 2xx body a
fake sends is checked against the method's response schema.

A JSON-schema library does not read discovery schemas (`$ref` by id, `any`,
string-encoded int64, `annotations.required` per method), so this is a small
walker over them. It is strict where Google is: a property or parameter the
document does not list is an error, not something to ignore. Two leniencies
are deliberate and documented by Google: output-only (`readOnly`) fields in a
request are ignored by the API rather than refused, and the standard query
parameters of the document (alt, fields, key, ...) are accepted on every method.

`Conformance` is what a fake holds: it records each violation, so the fake's
context manager can fail the test that caused it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any
from urllib.parse import parse_qs, unquote

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.IGNORECASE
)
_INT = re.compile(r"-?\d+")
_DURATION = re.compile(r"-?\d+(\.\d+)?s")
_VARIABLE = re.compile(r"\{(\+?)([^}]+)\}")


@dataclass(frozen=True)
class Method:
    """One discovery method: where it lives and what it takes and returns."""

    api: str
    id: str
    http_method: str
    path: str
    regex: re.Pattern[str]
    parameters: Mapping[str, Any]
    request: str | None
    response: str | None
    literal: int  #: characters of fixed path text; the most specific match wins


@cache
def document(api: str) -> dict[str, Any]:
    """The discovery document google-api-python-client ships, e.g. `calendar.v3`."""
    from googleapiclient.discovery_cache import get_static_doc

    text = get_static_doc(*api.split("."))
    if text is None:
        raise LookupError(f"no discovery document for {api}")
    doc: dict[str, Any] = json.loads(text)
    return doc


def _path_regex(path: str) -> re.Pattern[str]:
    out, pos = [], 0
    for m in _VARIABLE.finditer(path):
        out.append(re.escape(path[pos : m.start()]))
        name = re.sub(r"\W", "_", m.group(2))
        out.append(f"(?P<{name}>.+)" if m.group(1) else f"(?P<{name}>[^/]+)")
        pos = m.end()
    out.append(re.escape(path[pos:]))
    return re.compile("".join(out))


@cache
def methods(api: str) -> tuple[Method, ...]:
    doc = document(api)
    prefix = "/" + doc["servicePath"]
    found: list[Method] = []

    def walk(resources: Mapping[str, Any]) -> None:
        for resource in resources.values():
            for m in resource.get("methods", {}).values():
                path = prefix + m["path"]
                found.append(
                    Method(
                        api=api,
                        id=m["id"],
                        http_method=m["httpMethod"],
                        path=path,
                        regex=_path_regex(path),
                        parameters=m.get("parameters", {}),
                        request=m.get("request", {}).get("$ref"),
                        response=m.get("response", {}).get("$ref"),
                        literal=len(_VARIABLE.sub("", path)),
                    )
                )
            walk(resource.get("resources", {}))

    walk(doc.get("resources", {}))
    return tuple(found)


def find_method(api: str, http_method: str, path: str) -> tuple[Method, dict[str, str]] | None:
    """The method this request addresses, with its decoded path parameters, or None."""
    best: tuple[Method, dict[str, str]] | None = None
    for m in methods(api):
        if m.http_method != http_method:
            continue
        hit = m.regex.fullmatch(path)
        if hit is None:
            continue
        values = {_param_name(m, k): unquote(v) for k, v in hit.groupdict().items()}
        if any(_pattern_problem(m.parameters.get(k, {}), v) for k, v in values.items()):
            continue
        if best is None or m.literal > best[0].literal:
            best = (m, values)
    return best


def _param_name(m: Method, group: str) -> str:
    for name in m.parameters:
        if re.sub(r"\W", "_", name) == group:
            return name
    return group


def _pattern_problem(spec: Mapping[str, Any], value: str) -> bool:
    pattern = spec.get("pattern")
    return isinstance(pattern, str) and re.search(pattern, value) is None


def _scalar_problem(spec: Mapping[str, Any], value: str, where: str) -> str | None:
    """A query or path value (always text on the wire) against its parameter spec."""
    kind, fmt = spec.get("type"), spec.get("format")
    if kind == "integer" or fmt in ("int64", "uint64"):
        if not _INT.fullmatch(value):
            return f"{where}: {value!r} is not an integer"
        number = int(value)
        if "minimum" in spec and number < int(spec["minimum"]):
            return f"{where}: {number} is below the minimum {spec['minimum']}"
        if "maximum" in spec and number > int(spec["maximum"]):
            return f"{where}: {number} is above the maximum {spec['maximum']}"
    elif kind == "boolean":
        if value not in ("true", "false"):
            return f"{where}: {value!r} is not a boolean"
    elif kind == "number":
        try:
            float(value)
        except ValueError:
            return f"{where}: {value!r} is not a number"
    elif kind == "string":
        problem = _string_format_problem(fmt, value, where)
        if problem:
            return problem
    if "enum" in spec and value not in spec["enum"]:
        return f"{where}: {value!r} is not one of {spec['enum']}"
    if _pattern_problem(spec, value):
        return f"{where}: {value!r} does not match {spec['pattern']}"
    return None


def _string_format_problem(fmt: str | None, value: str, where: str) -> str | None:
    if fmt in ("date-time", "google-datetime"):
        if not _RFC3339.fullmatch(value):
            return f"{where}: {value!r} is not an RFC 3339 timestamp with an offset"
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return f"{where}: {value!r} is not a valid timestamp"
    elif fmt == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return f"{where}: {value!r} is not a YYYY-MM-DD date"
    elif fmt in ("int64", "uint64", "int32", "uint32"):
        if not _INT.fullmatch(value):
            return f"{where}: {value!r} is not an integer string"
    elif fmt == "byte":
        try:
            padded = value + "=" * (-len(value) % 4)
            alphabet = b"-_" if ("-" in value or "_" in value) else b"+/"
            base64.b64decode(padded.encode("ascii"), altchars=alphabet, validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            return f"{where}: not base64"
    elif fmt == "google-duration" and not _DURATION.fullmatch(value):
        return f"{where}: {value!r} is not a duration like '3.5s'"
    return None


def check_parameters(m: Method, path_values: Mapping[str, str], query: str) -> list[str]:
    """Every path and query parameter against the method's (and the document's) list."""
    problems: list[str] = []
    common = document(m.api).get("parameters", {})
    for name, value in path_values.items():
        spec = m.parameters.get(name)
        if spec is None or spec.get("location") != "path":
            problems.append(f"{m.id}: path parameter {name} is not in the document")
            continue
        problem = _scalar_problem(spec, value, f"{m.id}: {name}")
        if problem:
            problems.append(problem)
    given = parse_qs(query, keep_blank_values=True)
    for name, values in given.items():
        spec = m.parameters.get(name) or common.get(name)
        if spec is None or spec.get("location") != "query":
            problems.append(f"{m.id}: unknown query parameter {name!r}")
            continue
        if len(values) > 1 and not spec.get("repeated"):
            problems.append(f"{m.id}: {name} is not repeated but was given {len(values)} times")
        for value in values:
            problem = _scalar_problem(spec, value, f"{m.id}: {name}")
            if problem:
                problems.append(problem)
    for name, spec in m.parameters.items():
        if spec.get("required") and name not in given and name not in path_values:
            problems.append(f"{m.id}: required parameter {name} is missing")
    return problems


def check_value(
    api: str, value: Any, schema: Mapping[str, Any], where: str, *, method_id: str = ""
) -> list[str]:
    """Decoded JSON against a discovery schema; `method_id` adds the fields that method requires."""
    problems: list[str] = []
    _walk(document(api)["schemas"], value, schema, where, method_id=method_id, problems=problems)
    return problems


def _walk(
    schemas: Mapping[str, Any],
    value: Any,
    schema: Mapping[str, Any],
    where: str,
    *,
    method_id: str,
    problems: list[str],
) -> None:
    context: dict[str, Any] = {"method_id": method_id, "problems": problems}
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    kind = schema.get("type")
    if kind == "any":
        return
    if value is None:
        problems.append(f"{where}: null")
        return
    if kind == "object":
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object, got {type(value).__name__}")
            return
        props: Mapping[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                _walk(schemas, item, props[key], f"{where}.{key}", **context)
            elif extra is not None:
                _walk(schemas, item, extra, f"{where}[{key!r}]", **context)
            else:
                problems.append(f"{where}: unknown property {key!r}")
        if method_id:
            for key, spec in props.items():
                required = spec.get("annotations", {}).get("required", ())
                if method_id in required and key not in value:
                    problems.append(f"{where}: {key} is required by {method_id}")
    elif kind == "array":
        if not isinstance(value, list):
            problems.append(f"{where}: expected an array, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _walk(schemas, item, schema.get("items", {}), f"{where}[{i}]", **context)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{where}: expected a string, got {type(value).__name__}")
            return
        problem = _string_format_problem(schema.get("format"), value, where)
        if problem:
            problems.append(problem)
        elif "enum" in schema and value not in schema["enum"]:
            problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{where}: expected an integer, got {type(value).__name__}")
    elif kind == "number":
        if not isinstance(value, int | float) or isinstance(value, bool):
            problems.append(f"{where}: expected a number, got {type(value).__name__}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{where}: expected a boolean, got {type(value).__name__}")
    else:
        problems.append(f"{where}: the schema has an unknown type {kind!r}")


def check_request(
    api: str, http_method: str, path: str, query: str, body: bytes
) -> tuple[Method | None, list[str]]:
    """One request against the document: the method it addresses and what is wrong with it."""
    found = find_method(api, http_method, path)
    if found is None:
        return None, [f"{http_method} {path}: no {api} method has this verb and path"]
    m, path_values = found
    problems = check_parameters(m, path_values, query)
    if m.request is None:
        if body.strip():
            problems.append(f"{m.id}: takes no request body")
        return m, problems
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        return m, [*problems, f"{m.id}: the request body is not JSON"]
    if payload is None:
        problems.append(f"{m.id}: a {m.request} request body is required")
    else:
        problems += check_value(api, payload, {"$ref": m.request}, m.request, method_id=m.id)
    return m, problems


def check_response(m: Method, payload: Any) -> list[str]:
    """A successful answer against the method's response schema (no body if it has none)."""
    if m.response is None:
        return [] if payload in (None, b"", {}) else [f"{m.id}: answers no body"]
    return check_value(m.api, payload, {"$ref": m.response}, f"{m.id} -> {m.response}")


@dataclass
class Conformance:
    """What a fake server holds: checks each request and response, records what fails."""

    apis: Mapping[str, str]  #: path prefix -> API, e.g. {"/calendar/v3/": "calendar.v3"}
    #: Benchmarks switch checking off: it costs the fake ~0.3 ms per event listed, time
    #: (and, in-process, CPU) that would count against the code being measured.
    enabled: bool = True
    violations: list[str] = field(default_factory=list)
    #: Method ids of the requests and responses checked, in order (what a test can assert ran).
    checked: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def request(
        self, http_method: str, path: str, query: str, body: bytes
    ) -> tuple[Method | None, str | None]:
        """The addressed method and the first problem (None if conforming or not an API path)."""
        api = next((a for p, a in self.apis.items() if path.startswith(p)), None)
        if api is None or not self.enabled:
            return None, None
        m, problems = check_request(api, http_method, path, query, body)
        with self._lock:
            self.checked.append(m.id if m else f"{http_method} {path}")
        return m, self._record(problems)

    def response(self, m: Method | None, status: int, payload: bytes) -> str | None:
        if m is None or not self.enabled or not 200 <= status < 300:
            return None
        with self._lock:
            self.checked.append(f"{m.id} -> {status}")
        try:
            decoded = json.loads(payload) if payload else None
        except ValueError:
            return self._record([f"{m.id}: the response is not JSON"])
        return self._record(check_response(m, decoded))

    def _record(self, problems: list[str]) -> str | None:
        if not problems:
            return None
        with self._lock:
            self.violations.extend(problems)
        return "; ".join(problems)

    def take(self) -> list[str]:
        """The violations so far, cleared: for a test that sends a nonconforming request."""
        with self._lock:
            found, self.violations[:] = list(self.violations), []
        return found

    def assert_clean(self) -> None:
        """Fail the test: a request or response did not match the discovery document."""
        found = self.take()
        if found:
            raise AssertionError(
                "discovery-document violations:\n" + "\n".join(f"- {v}" for v in found)
            )
