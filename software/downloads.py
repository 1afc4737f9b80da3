"""Serving an artifact (a package or any stored file): the one implementation behind every download link.

The DDI artifact endpoint and the operator API both call ``serve_artifact`` and
``serve_md5sum``. Behaviour follows hawkBit's artifact endpoint (ddi.md §1.9) because devices are
written against it:

* GET and HEAD; ``ETag`` is the quoted sha1, ``Last-Modified`` the upload time, plus
  ``Accept-Ranges: bytes``, ``Content-Disposition: attachment;filename=<name>``,
  ``X-Content-Type-Options: nosniff`` and always a ``Content-Length``.
* ``If-Match`` (quoted or bare sha1, lists, ``*``) that fails → 412; ``If-None-Match`` or
  ``If-Modified-Since`` that holds → 304.
* ``Range``: one range → 206 with ``Content-Range``; several → 206 ``multipart/byteranges``;
  anything unsatisfiable or malformed → 416 with ``Content-Range: bytes */<size>`` (RAUC resumes
  downloads and must see 416, not a full 200, when it asks past the end). ``If-Range`` that does
  not match turns the request into a full 200.

Where the bytes come from:

* local storage: streamed from the file in chunks (a full download goes through
  ``FileResponse`` so gunicorn can use sendfile); with GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX nginx
  serves the file (``X-Accel-Redirect``) and handles Range itself;
* S3: a 302 to a presigned URL (default), or with GOOSEBIT_STORAGE__S3__DOWNLOAD_MODE=proxy a
  stream from S3 that forwards each range as a ranged GetObject;
* remote-URL artifact: a 302 to its URL.

HEAD is always answered from the database: presigned URLs are valid for GET only, and a device's
HEAD must not depend on a third party.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import quote

from django.conf import settings
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseNotModified,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.utils.http import http_date, parse_http_date_safe

from goosebit_project.lib.http_ranges import RangeNotSatisfiable, etag_in_list, parse_range_header
from software.models import Artifact

__all__ = ["BOUNDARY", "serve_artifact", "serve_md5sum"]

logger = logging.getLogger(__name__)

BOUNDARY = "THIS_STRING_SEPARATES_MULTIPART"
CONTENT_TYPE = "application/octet-stream"
CHUNK_SIZE = 64 * 1024


def _modified_seconds(artifact: Artifact) -> int:
    return int(artifact.created.timestamp())


def _entity_headers(artifact: Artifact) -> dict[str, str]:
    return {
        "ETag": f'"{artifact.sha1}"',
        "Last-Modified": http_date(_modified_seconds(artifact)),
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
    }


def _artifact_headers(artifact: Artifact) -> dict[str, str]:
    return {
        **_entity_headers(artifact),
        "Content-Type": CONTENT_TYPE,
        "Content-Disposition": f"attachment;filename={artifact.filename}",
    }


def _apply(response: HttpResponseBase, headers: dict[str, str]) -> HttpResponseBase:
    for name, value in headers.items():
        response[name] = value
    return response


def _preconditions(request: HttpRequest, artifact: Artifact) -> HttpResponseBase | None:
    """RFC 9110 §13.2.2 order: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since."""
    modified = _modified_seconds(artifact)
    if_match = request.headers.get("If-Match")
    if if_match is not None:
        if not etag_in_list(if_match, artifact.sha1, weak=False):
            return _apply(HttpResponse(status=412), {**_entity_headers(artifact), "Content-Length": "0"})
    else:
        since = parse_http_date_safe(request.headers.get("If-Unmodified-Since", ""))
        if since is not None and modified > since:
            return _apply(HttpResponse(status=412), {**_entity_headers(artifact), "Content-Length": "0"})
    if_none_match = request.headers.get("If-None-Match")
    not_modified = False
    if if_none_match is not None:
        not_modified = etag_in_list(if_none_match, artifact.sha1, weak=True)
    else:
        since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
        not_modified = since is not None and modified <= since
    if not_modified:
        # RFC 9110 §8.6 allows the Content-Length of the full response on a 304.
        headers = {**_entity_headers(artifact), "Content-Length": str(artifact.size)}
        return _apply(HttpResponseNotModified(), headers)
    return None


def _if_range_holds(request: HttpRequest, artifact: Artifact) -> bool:
    """Ranges apply only if If-Range (when sent) still names this exact representation."""
    value = request.headers.get("If-Range")
    if value is None:
        return True
    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == f'"{artifact.sha1}"'
    if value == artifact.sha1:  # a bare sha1, as hawkBit's clients send in If-Match
        return True
    return parse_http_date_safe(value) == _modified_seconds(artifact)


def _not_satisfiable(artifact: Artifact, reason: str) -> HttpResponse:
    body = f"{reason}\n".encode()
    response = HttpResponse(body, status=416, content_type="text/plain")
    response["Content-Range"] = f"bytes */{artifact.size}"
    response["Content-Length"] = str(len(body))
    return response


def _missing(artifact: Artifact) -> HttpResponse:
    logger.error("artifact %s: file %r is missing from the storage", artifact.pk, artifact.file.name)
    body = b"the artifact file is missing from the storage\n"
    return HttpResponse(body, status=404, content_type="text/plain")


class _FileReader:
    """Reads ranges from an open file; local files and any Django storage without S3 tricks."""

    def __init__(self, handle) -> None:
        self._handle = handle

    @property
    def handle(self):
        return self._handle

    @classmethod
    def local(cls, path: str) -> _FileReader:
        return cls(open(path, "rb"))  # noqa: SIM115 - closed by close(), from the response

    @classmethod
    def from_storage(cls, storage, name: str) -> _FileReader:
        return cls(storage.open(name, "rb"))

    def read_range(self, first: int, last: int) -> Iterator[bytes]:
        self._handle.seek(first)
        remaining = last - first + 1
        while remaining > 0:
            chunk = self._handle.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk

    def close(self) -> None:
        self._handle.close()


class _S3Reader:
    """Ranged GetObject calls; the first range is requested before the response starts so that
    a missing object is a 404 rather than a truncated 200."""

    def __init__(self, storage, name: str, first_range: tuple[int, int]) -> None:
        from storages.utils import clean_name

        self._object = storage.bucket.Object(storage._normalize_name(clean_name(name)))
        self._pending: tuple[tuple[int, int], Any] | None = (first_range, self._get(first_range))

    def _get(self, byte_range: tuple[int, int]):
        return self._object.get(Range=f"bytes={byte_range[0]}-{byte_range[1]}")["Body"]

    def read_range(self, first: int, last: int) -> Iterator[bytes]:
        if self._pending is not None and self._pending[0] == (first, last):
            body = self._pending[1]
            self._pending = None
        else:
            body = self._get((first, last))
        try:
            yield from body.iter_chunks(CHUNK_SIZE)
        finally:
            body.close()

    def close(self) -> None:
        if self._pending is not None:
            self._pending[1].close()
            self._pending = None


class _RangeBody:
    """The body of a 206: one range, or several as multipart/byteranges.

    An object with close() rather than a generator, so the reader is closed even if the
    response is never iterated (HEAD stripping, client gone before the first byte).
    """

    def __init__(self, reader, ranges: list[tuple[int, int]], size: int) -> None:
        self._reader = reader
        self._ranges = ranges
        self._size = size

    def part_header(self, first: int, last: int) -> bytes:
        return (
            f"\r\n--{BOUNDARY}\r\nContent-Type: {CONTENT_TYPE}\r\n"
            f"Content-Range: bytes {first}-{last}/{self._size}\r\n\r\n"
        ).encode()

    @property
    def closing(self) -> bytes:
        return f"\r\n--{BOUNDARY}--\r\n".encode()

    def length(self) -> int:
        data = sum(last - first + 1 for first, last in self._ranges)
        if len(self._ranges) == 1:
            return data
        headers = sum(len(self.part_header(first, last)) for first, last in self._ranges)
        return data + headers + len(self.closing)

    def __iter__(self) -> Iterator[bytes]:
        if len(self._ranges) == 1:
            yield from self._reader.read_range(*self._ranges[0])
            return
        for first, last in self._ranges:
            yield self.part_header(first, last)
            yield from self._reader.read_range(first, last)
        yield self.closing

    def close(self) -> None:
        self._reader.close()


def _ranged_response(artifact: Artifact, reader, ranges: list[tuple[int, int]]) -> StreamingHttpResponse:
    body = _RangeBody(reader, ranges, artifact.size)
    response = StreamingHttpResponse(body, status=206)
    _apply(response, _artifact_headers(artifact))
    if len(ranges) == 1:
        first, last = ranges[0]
        response["Content-Range"] = f"bytes {first}-{last}/{artifact.size}"
    else:
        response["Content-Type"] = f"multipart/byteranges; boundary={BOUNDARY}"
    response["Content-Length"] = str(body.length())
    return response


def _is_s3(storage) -> bool:
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:  # django-storages without boto3: no S3 possible
        return False
    return isinstance(storage, S3Storage)


def _local_path(storage, name: str) -> str | None:
    try:
        return storage.path(name)
    except NotImplementedError:
        return None


def _serve_stored(artifact: Artifact, ranges: list[tuple[int, int]] | None) -> HttpResponseBase:
    storage = artifact.file.storage
    name = cast(str, artifact.file.name)  # a stored artifact always has a name
    if _is_s3(storage):
        if settings.GOOSEBIT_S3_DOWNLOAD_MODE == "redirect":
            # S3Storage.url takes the response headers to sign; the stubs know only Storage.url.
            url = storage.url(  # type: ignore[call-arg]
                name,
                parameters={
                    "ResponseContentDisposition": f"attachment;filename={artifact.filename}",
                    "ResponseContentType": CONTENT_TYPE,
                },
            )
            return _redirect(url)
        from botocore.exceptions import ClientError

        try:
            reader: _S3Reader | _FileReader = _S3Reader(
                storage, name, ranges[0] if ranges else (0, max(artifact.size - 1, 0))
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return _missing(artifact)
            raise
        if ranges:
            return _ranged_response(artifact, reader, ranges)
        response: HttpResponseBase = StreamingHttpResponse(
            _RangeBody(reader, [(0, artifact.size - 1)], artifact.size)
        )
        _apply(response, {**_artifact_headers(artifact), "Content-Length": str(artifact.size)})
        return response

    path = _local_path(storage, name)
    if path is not None and settings.GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX:
        # nginx replaces the empty body with the file and handles Range/If-Range itself.
        response = HttpResponse(b"")
        _apply(response, _artifact_headers(artifact))
        response["X-Accel-Redirect"] = settings.GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX + quote(name)
        response["Content-Length"] = "0"
        return response
    try:
        reader = _FileReader.local(path) if path is not None else _FileReader.from_storage(storage, name)
    except FileNotFoundError:
        return _missing(artifact)
    if ranges:
        return _ranged_response(artifact, reader, ranges)
    if path is None:
        response = StreamingHttpResponse(_RangeBody(reader, [(0, artifact.size - 1)], artifact.size))
    else:
        # FileResponse lets the WSGI server use sendfile for the common full download.
        response = FileResponse(reader.handle, content_type=CONTENT_TYPE)
        response.block_size = CHUNK_SIZE
    _apply(response, {**_artifact_headers(artifact), "Content-Length": str(artifact.size)})
    return response


def _redirect(url: str) -> HttpResponse:
    # Built by hand so Content-Length is there even where CommonMiddleware is not.
    response = HttpResponse(status=302)
    response["Location"] = url
    response["Content-Length"] = "0"
    return response


def serve_artifact(request: HttpRequest, artifact: Artifact) -> HttpResponseBase:
    """Answer a GET or HEAD for ``artifact`` (see the module docstring)."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    precondition = _preconditions(request, artifact)
    if precondition is not None:
        return precondition
    if request.method == "HEAD":
        response = HttpResponse(b"")
        _apply(response, {**_artifact_headers(artifact), "Content-Length": str(artifact.size)})
        return response

    ranges = None
    range_header = request.headers.get("Range")
    if range_header is not None and _if_range_holds(request, artifact):
        try:
            ranges = parse_range_header(range_header, artifact.size)
        except RangeNotSatisfiable as exc:
            return _not_satisfiable(artifact, str(exc))

    if not artifact.file:
        return _redirect(artifact.url)
    return _serve_stored(artifact, ranges)


def serve_md5sum(request: HttpRequest, artifact: Artifact) -> HttpResponseBase:
    """The hawkBit ``<artifact>.MD5SUM`` file: ``<md5>  <filename>`` as ``md5sum -c`` reads it."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    body = f"{artifact.md5}  {artifact.filename}".encode()
    response = HttpResponse(b"" if request.method == "HEAD" else body, content_type="text/plain")
    response["Content-Disposition"] = f"attachment;filename={artifact.filename}.MD5SUM"
    response["Content-Length"] = str(len(body))
    response["X-Content-Type-Options"] = "nosniff"
    return response
