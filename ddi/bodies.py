"""Reading a DDI request body, never more than a bound.

A device's feedback or configData is a few hundred bytes; without a bound one request could make
a worker hold (and the database store) megabytes. The declared Content-Length is refused before
anything is read; a body without one is read up to one byte past the bound, which is enough to
tell that it is too big.
"""

from __future__ import annotations

from typing import IO, cast

from django.http import HttpRequest

from goosebit_project.lib.errors import DomainError


class BodyTooLarge(DomainError):
    """hawkBit's FileSizeQuotaExceededException: the request body is bigger than allowed."""

    status_code = 413


def _too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"the request body is larger than {limit} bytes (GOOSEBIT_DDI_MAX_BODY_BYTES)")


def read_body(request: HttpRequest, *, limit: int) -> bytes:
    """The request body, or BodyTooLarge (413) when it is longer than ``limit`` bytes."""
    declared = request.META.get("CONTENT_LENGTH", "")
    if declared.strip():
        try:
            length = int(declared)
        except ValueError:
            length = 0  # Django reads such a body as empty; the parser then names the problem
        if length > limit:
            raise _too_large(limit)
        body = request.read(limit + 1)
    elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        # Django's own stream reads nothing without a Content-Length; the WSGI server (gunicorn)
        # has decoded the chunks into its input stream, so read that, bounded.
        stream = cast(IO[bytes] | None, request.META.get("wsgi.input"))
        body = stream.read(limit + 1) if stream is not None else b""
    else:
        body = b""  # no length and not chunked: HTTP says there is no body
    if len(body) > limit:
        raise _too_large(limit)
    return body
