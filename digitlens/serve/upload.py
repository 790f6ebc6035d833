"""Receiving an image: a bounded read of the body, kept in memory, multipart or raw.

Nothing is written to disk (Starlette's own form parser spools large files to a
temporary file, so multipart is parsed here, in memory, with python-multipart).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

#: A multipart body with more parts than this is refused (an image upload has one).
MAX_PARTS = 16
#: Field names taken as the image when several parts are sent.
FILE_FIELDS = ("file", "image")


class BadUpload(ValueError):
    """The request body cannot be an image upload; `status` is the HTTP status to answer."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str | None


def check_length(content_length: str | None, limit: int) -> None:
    """Refuse a declared body larger than the limit before reading any of it."""
    if content_length is None:
        return
    try:
        n = int(content_length)
    except ValueError:
        raise BadUpload(400, "bad_request", f"Content-Length is not a number: {content_length[:40]!r}") from None
    if n > limit:
        raise BadUpload(413, "too_large", f"upload of {n} bytes exceeds the limit of {limit} bytes")


async def read_body(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole body, or BadUpload(413) as soon as it grows past the limit."""
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        if len(buf) > limit:
            raise BadUpload(413, "too_large", f"upload exceeds the limit of {limit} bytes")
    return bytes(buf)


def parse_upload(body: bytes, content_type: str | None) -> Upload:
    """A multipart form's file part, or the raw body for any other content type."""
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    if ctype != "multipart/form-data":
        if not body:
            raise BadUpload(400, "empty", "the request has no body: send an image file")
        return Upload(body, None)
    return _parse_multipart(body, content_type or "")


def _parse_multipart(body: bytes, content_type: str) -> Upload:
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadUpload(400, "bad_multipart", "multipart/form-data without a boundary")
    parts: list[dict] = []
    state: dict = {}

    def on_part_begin() -> None:
        if len(parts) >= MAX_PARTS:
            raise BadUpload(400, "bad_multipart", f"more than {MAX_PARTS} parts in the form")
        state.update(headers={}, field=b"", value=b"", data=bytearray())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        state["data"] += data[start:end]

    def on_part_end() -> None:
        parts.append({"headers": state["headers"], "data": bytes(state["data"])})

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except BadUpload:
        raise
    except Exception as exc:  # python-multipart's parse errors
        raise BadUpload(400, "bad_multipart", f"malformed multipart body ({str(exc)[:120]})") from None
    chosen: tuple[bytes, str | None] | None = None
    for part in parts:
        _, disp = parse_options_header(part["headers"].get(b"content-disposition", b""))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        raw_name = disp.get(b"filename")
        if name in FILE_FIELDS or raw_name is not None:
            chosen = (part["data"], raw_name.decode("utf-8", "replace") if raw_name is not None else None)
            break
    if chosen is None:
        raise BadUpload(400, "no_file", "the form has no file part: send the image in a field named 'file'")
    data, filename = chosen
    if not data:
        raise BadUpload(400, "empty", f"the uploaded file {filename or ''} is empty".replace("  ", " "))
    # a client's path must not leak into the answer as more than a base name
    if filename:
        filename = filename.replace("\\", "/").rsplit("/", 1)[-1][:200]
    return Upload(data, filename or None)
