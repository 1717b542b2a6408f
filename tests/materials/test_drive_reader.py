"""The production document reader on the real google-api-python-client, against a fake Drive.

The fake (tests/support/fake_drive_reader.py) checks every request against the drive
v3 discovery document the client is built from, so a wrong parameter or path
fails here rather than in production.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import pytest
from google.oauth2.credentials import Credentials

from functions.materials.documents.drive import GoogleDriveReader
from functions.materials.documents.port import (
    GOOGLE_DOC,
    GOOGLE_SHEET,
    GOOGLE_SLIDES,
    PDF,
    DocumentRef,
    DocumentsUnavailable,
    DocumentUnreadable,
    text_hash,
)
from tests.support.fake_drive_reader import EXPORT_LIMIT_BYTES, FakeDrive, fake_drive

ME = "me@example.com"


@pytest.fixture
def drive() -> Iterator[FakeDrive]:
    with fake_drive() as fake:
        fake.grant("tok-me", ME)
        yield fake


MY_TOKEN = "tok-me"


def reader(drive: FakeDrive, token: str = MY_TOKEN, **kw: int) -> GoogleDriveReader:
    return GoogleDriveReader(Credentials(token=token), api_endpoint=drive.url, **kw)


def ref(file_id: str) -> DocumentRef:
    return DocumentRef(file_id, f"https://docs.google.com/document/d/{file_id}/edit", "as attached")


def _pdf(text: str) -> bytes:
    stream = zlib.compress(f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode("latin-1"))
    return (
        b"%PDF-1.4\n1 0 obj\n<< /Length "
        + str(len(stream)).encode()
        + b" /Filter /FlateDecode >>\nstream\n"
        + stream
        + b"\nendstream\nendobj\n%%EOF\n"
    )


def test_a_google_doc_is_exported_as_text_with_its_metadata(drive: FakeDrive) -> None:
    drive.add(
        "doc1", "Renewal plan", GOOGLE_DOC, "Renewal at 8% uplift.\nTwo-year term.", readers={ME}
    )
    doc = reader(drive).read(ref("doc1"), max_chars=1000)
    assert doc.title == "Renewal plan" and doc.mime_type == GOOGLE_DOC
    assert doc.text == "Renewal at 8% uplift.\nTwo-year term."
    assert doc.url == "https://docs.google.com/document/d/doc1/edit"
    assert doc.modified is not None and doc.modified.year == 2026
    assert doc.content_hash == text_hash(doc.text) and not doc.clipped
    # One metadata read with a field mask, one export as text/plain.
    assert drive.requests[0].startswith("GET /drive/v3/files/doc1?")
    assert "fields=" in drive.requests[0] and "supportsAllDrives=true" in drive.requests[0]
    assert drive.requests[1].startswith("GET /drive/v3/files/doc1/export?")
    assert "mimeType=text%2Fplain" in drive.requests[1]
    # Both requests, and the metadata answer, were checked against the discovery document.
    assert {"drive.files.get", "drive.files.export", "drive.files.get -> 200"} <= set(
        drive.conformance.checked
    )


def test_sheets_export_as_csv_and_slides_as_text(drive: FakeDrive) -> None:
    drive.add("sheet1", "Budget", GOOGLE_SHEET, "Area,Plan\nInfra,2.4M\n", readers={ME})
    drive.add("deck1", "Roadmap", GOOGLE_SLIDES, "Q1: onboarding", readers={ME})
    assert reader(drive).read(ref("sheet1"), max_chars=100).text.startswith("Area,Plan")
    assert "mimeType=text%2Fcsv" in drive.requests[1]
    assert reader(drive).read(ref("deck1"), max_chars=100).text == "Q1: onboarding"


def test_text_is_bounded_but_hashed_whole(drive: FakeDrive) -> None:
    drive.add("long", "Long", GOOGLE_DOC, "x" * 5000, readers={ME})
    doc = reader(drive).read(ref("long"), max_chars=300)
    assert len(doc.text) == 300 and doc.clipped
    assert doc.content_hash == text_hash("x" * 5000)


def test_a_pdf_is_downloaded_within_its_size_bound_and_its_text_read(drive: FakeDrive) -> None:
    drive.add("pdf1", "Contract", PDF, _pdf("Termination needs 90 days notice"), readers={ME})
    doc = reader(drive).read(ref("pdf1"), max_chars=500)
    assert "Termination needs 90 days notice" in doc.text and doc.extracted
    assert "alt=media" in drive.requests[1]
    drive.add("big", "Scan", PDF, b"%PDF-1.4\n" + b"0" * 4096, readers={ME})
    with pytest.raises(DocumentUnreadable) as too_large:
        reader(drive, max_bytes=1024).read(ref("big"), max_chars=500)
    assert too_large.value.reason == "too_large"
    # Never downloaded: the size in the metadata was enough to refuse it.
    assert not any("big?alt=media" in r for r in drive.requests)


def test_a_pdf_without_readable_text_says_so(drive: FakeDrive) -> None:
    drive.add(
        "scan",
        "Scan",
        PDF,
        b"%PDF-1.4\n<< /Filter /DCTDecode >>\nstream\n\xff\xd8\nendstream\n",
        readers={ME},
    )
    doc = reader(drive).read(ref("scan"), max_chars=500)
    assert not doc.extracted and doc.text == ""


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("missing", "not_found"),
        ("not_shared", "not_found"),  # Drive answers 404 for a file the user may not see
        ("export_too_large", "too_large"),
        ("no_scope", "no_access"),
        ("image", "unsupported"),
        ("download_restricted", "no_access"),
    ],
)
def test_permanent_failures_are_unreadable_for_that_file(
    drive: FakeDrive, setup: str, reason: str
) -> None:
    token = "tok-me"
    if setup == "not_shared":
        drive.add("f", "Private", GOOGLE_DOC, "secret", readers={"other@example.com"})
    elif setup == "export_too_large":
        drive.add("f", "Huge", GOOGLE_DOC, "big", readers={ME}, export_size=EXPORT_LIMIT_BYTES + 1)
    elif setup == "no_scope":
        drive.add("f", "Doc", GOOGLE_DOC, "text", readers={ME})
        drive.grant("tok-file", ME, "https://www.googleapis.com/auth/calendar.events.readonly")
        token = "tok-file"
    elif setup == "image":
        drive.add("f", "Photo", "image/png", b"\x89PNG", readers={ME})
    elif setup == "download_restricted":
        drive.add("f", "Board memo", GOOGLE_DOC, "secret", readers={ME}).download_restricted = True
    with pytest.raises(DocumentUnreadable) as caught:
        reader(drive, token).read(ref("f"), max_chars=100)
    assert caught.value.reason == reason
    assert "secret" not in str(caught.value)  # messages carry status and reason only


@pytest.mark.parametrize(
    ("status", "reason"), [(429, ""), (500, ""), (503, ""), (403, "userRateLimitExceeded")]
)
def test_rate_limits_and_server_errors_are_transient(
    drive: FakeDrive, status: int, reason: str
) -> None:
    drive.add("f", "Doc", GOOGLE_DOC, "text", readers={ME})
    drive.fail(status, reason)
    with pytest.raises(DocumentsUnavailable):
        reader(drive).read(ref("f"), max_chars=100)
    # The next attempt (the task's retry) reads it.
    assert reader(drive).read(ref("f"), max_chars=100).text == "text"


def test_the_fake_refuses_what_drive_refuses(drive: FakeDrive) -> None:
    """The fake is as strict as Drive: the adapter's requests pass only because they are right."""
    import json
    import urllib.request

    drive.add("d", "Doc", GOOGLE_DOC, "text", readers={ME})

    def get(path: str) -> tuple[int, dict[str, object] | bytes]:
        req = urllib.request.Request(  # noqa: S310 (loopback)
            drive.url + path, headers={"Authorization": "Bearer tok-me"}
        )
        try:
            with urllib.request.urlopen(req) as resp:  # noqa: S310 (loopback)
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    status, body = get("files/d?alt=media")
    assert status == 403 and "fileNotDownloadable" in json.dumps(body)
    status, body = get("files/d/export?mimeType=image%2Fgif")
    assert status == 400
    status, body = get("files/d?fields=name,notAField")
    assert status == 400
    status, body = get("files/d?notAParameter=1")
    assert status == 400
    assert drive.conformance.take()  # the unknown parameter was a discovery violation


def test_the_pdf_reader_is_bounded_and_refuses_what_it_cannot_read() -> None:
    from functions.materials.documents import pdf

    bomb = zlib.compress(b"(A) Tj " * 400_000)  # 2.8 MB inflated, past the 2 MiB bound
    data = b"%PDF-1.4\n<< /Filter /FlateDecode >>\nstream\n" + bomb + b"\nendstream\n"
    text = pdf.pdf_text(data, 5_000)
    assert text == "A" * 5_000
    assert pdf.pdf_text(b"%PDF-1.4\n/Encrypt 5 0 R\n" + data[9:]) is None
    assert pdf.pdf_text(b"not a pdf") is None
    escaped = _pdf(r"Q3 \(draft\) totals")
    assert pdf.pdf_text(escaped) == "Q3 (draft) totals"


@pytest.mark.parametrize(
    "hostile",
    [
        # A Flate stream of unclosed strings or arrays: each "(" or "[" used to scan to the end.
        b"%PDF-1.4\n<< /Filter /FlateDecode >>\nstream\n"
        + zlib.compress(b"(" * 2_000_000)
        + b"\nendstream\n",
        b"%PDF-1.4\n<< /Filter /FlateDecode >>\nstream\n"
        + zlib.compress(b"[" * 2_000_000)
        + b"\nendstream\n",
        # Unfiltered, in the file itself (within the 5 MB download bound).
        b"%PDF-1.4\n<< >>\nstream\n" + b"(" * 4_000_000 + b"\nendstream\n",
        # Dictionary openers with no stream: each "<<" used to look 2,000 bytes ahead.
        b"%PDF-1.4\n" + b"<" * 4_000_000,
        # Many stream keywords and one far "endstream": each used to search to the end.
        b"%PDF-1.4\n" + b"<< >>\nstream\n" * 300_000 + b"endstream\n",
    ],
    ids=["open-strings", "open-arrays", "unfiltered", "dict-openers", "far-endstream"],
)
def test_a_hostile_pdf_is_read_in_bounded_time(hostile: bytes) -> None:
    """Anyone can attach a PDF: reading it runs inside the generate task's deadline,
    so a file built to make the reader's patterns backtrack costs a second, not hours."""
    import time

    from functions.materials.documents import pdf

    began = time.monotonic()
    pdf.pdf_text(hostile, 4_001)
    assert time.monotonic() - began < 3


def test_the_bytes_scanned_for_text_are_bounded_in_all() -> None:
    """500 streams of 2 MiB each would be a gigabyte to scan: the total is bounded too."""
    from functions.materials.documents import pdf

    stream = zlib.compress(b" " * pdf.MAX_INFLATED)
    data = (
        b"%PDF-1.4\n"
        + (b"<< /Filter /FlateDecode >>\nstream\n" + stream + b"\nendstream\n") * 40
        + b"<< >>\nstream\nBT (late) Tj ET\nendstream\n"
    )
    assert 40 * pdf.MAX_INFLATED > pdf.MAX_SCANNED
    assert pdf.pdf_text(data) is None  # the budget ran out before the last stream
