"""A small, bounded PDF text reader: enough for text a word processor exported, nothing more.

No PDF library is installed and a heavy one (with its own parsers of hostile
input) is not worth a cold start for one source. Most exported PDFs keep
their text in Flate-compressed content streams as `(...) Tj` and `[...] TJ`
strings with a standard encoding: that is read here. Fonts with custom
encodings (CID fonts), scanned pages and encrypted files give nothing, and
the caller then lists the file as "text not extracted" rather than guessing.

Bounds: at most `MAX_STREAMS` streams, each inflated to at most
`MAX_INFLATED` bytes, at most `MAX_SCANNED` bytes of stream content looked
at in all, and at most `max_chars` (<= `MAX_CHARS`) characters of text, so
a "zip bomb" stream costs a bounded amount of memory and time. Time is
linear in what is scanned: anyone can attach a PDF, and the file is read
inside the generate task's deadline, so no pattern here may backtrack over
the input (a string or array never spans a "(" or "[" that would start
another, the stream's dictionary is looked for backwards from its `stream`
keyword within `DICT_WINDOW` bytes, and the next stream is looked for after
the last `endstream`).
"""

from __future__ import annotations

import re
import zlib

MAX_STREAMS = 500
MAX_INFLATED = 2 * 1024 * 1024
MAX_SCANNED = 16 * 1024 * 1024
MAX_CHARS = 200_000
#: How far before its `stream` keyword a stream's dictionary may start.
DICT_WINDOW = 2000

_STREAM_START = re.compile(rb">>[ \t\r\n\f\x00]{0,16}stream\r?\n")
_TEXT_OP = re.compile(
    rb"\((?:\\.|[^\\()])*\)\s{0,16}(?:Tj|'|\")|\[(?:\\.|[^\]\\\[])*\]\s{0,16}TJ|T\*|Td|TD|ET"
)
_STRING = re.compile(rb"\(((?:\\.|[^\\()])*)\)")
_ESCAPES = {b"n": "\n", b"r": "", b"t": " ", b"b": "", b"f": "", b"(": "(", b")": ")", b"\\": "\\"}
_OCTAL = re.compile(rb"\\([0-7]{1,3})|\\(.)", re.S)


def _unescape(raw: bytes) -> str:
    def one(m: re.Match[bytes]) -> bytes:
        if m.group(1):
            return bytes([int(m.group(1), 8) & 0xFF])
        return _ESCAPES.get(m.group(2), "").encode("latin-1")

    return _OCTAL.sub(one, raw).decode("latin-1")


def _inflate(data: bytes) -> bytes | None:
    try:
        out = zlib.decompressobj().decompress(data, MAX_INFLATED)
    except zlib.error:
        return None
    return out


def _text_of(content: bytes, limit: int) -> str:
    parts: list[str] = []
    size = 0
    for m in _TEXT_OP.finditer(content):
        if size >= limit:
            break
        op = m.group(0)
        if op in (b"T*", b"Td", b"TD", b"ET"):
            if parts and not parts[-1].endswith("\n"):
                parts.append("\n")
            continue
        piece = "".join(_unescape(s) for s in _STRING.findall(op))
        parts.append(piece)
        size += len(piece)
    return "".join(parts)


def pdf_text(data: bytes, max_chars: int = MAX_CHARS) -> str | None:
    """The text of a simple PDF, or None when none could be read (scanned, encrypted, CID).

    Reading stops once `max_chars` characters are found: the caller keeps no more.
    """
    max_chars = min(max_chars, MAX_CHARS)
    if not data.startswith(b"%PDF") or b"/Encrypt" in data[:4096]:
        return None
    texts: list[str] = []
    total = scanned = streams = pos = 0
    while streams < MAX_STREAMS and total < max_chars and scanned < MAX_SCANNED:
        m = _STREAM_START.search(data, pos)
        if m is None:
            break
        streams += 1
        start = m.end()
        end = data.find(b"endstream", start)
        if end < 0:
            break
        opener = data.find(b"<<", max(pos, m.start() - DICT_WINDOW), m.start())
        pos = end + len(b"endstream")
        if opener < 0:
            continue
        head = data[opener + 2 : m.start()]
        body = data[start:end]
        if b"/FlateDecode" in head:
            inflated = _inflate(body)
            if inflated is None:
                continue
            body = inflated
        elif b"/Filter" in head:
            continue  # other filters (images, LZW, ...) carry no text worth reading
        body = body[: MAX_SCANNED - scanned]
        scanned += len(body)
        text = _text_of(body, max_chars - total).strip()
        if text:
            texts.append(text)
            total += len(text)
    joined = "\n".join(texts).strip()
    return joined[:max_chars] if joined else None
