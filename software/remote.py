"""Remote package URLs: fetching them with bounds, and showing them without their secrets.

Operators may give a URL that carries credentials (``https://user:password@host/...``, or a
token in the query string of a presigned URL). Devices need the full URL, but people looking at
the admin, the API or a log must never see the secret part: everything shown goes through
``mask_url``.
"""

from __future__ import annotations

import base64
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import unquote, urlsplit, urlunsplit

from software.exceptions import RemoteFetchError, SoftwareError

MAX_REDIRECTS = 5
TIMEOUT_SECONDS = 30
SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2048  # Software.url
# Query parameters whose value is a secret (presigned S3/GCS/Azure URLs, API tokens).
_SECRET_QUERY_KEY = re.compile(r"token|key|secret|passw|pwd|signature|sig$|credential|auth", re.IGNORECASE)


def mask_url(url: str) -> str:
    """The URL with any password, user token and secret query value replaced by ``***``."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        # A lone user name is often a token (https://<token>@host), so it is hidden as well.
        netloc = f"{userinfo.split(':', 1)[0]}:***@{host}" if ":" in userinfo else f"***@{host}"
    query = "&".join(
        f"{pair.split('=', 1)[0]}=***"
        if "=" in pair and _SECRET_QUERY_KEY.search(unquote(pair.split("=", 1)[0]))
        else pair
        for pair in parts.query.split("&")
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def validate_url(url: str) -> str:
    """Return the URL stripped of whitespace or raise SoftwareError naming what is wrong."""
    url = (url or "").strip()
    if len(url) > MAX_URL_LENGTH:
        raise SoftwareError(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a non-numeric port
    except ValueError:
        raise SoftwareError(f"not a valid URL: {mask_url(url)}") from None
    if parts.scheme.lower() not in SCHEMES:
        raise SoftwareError("software URLs must start with http:// or https://")
    if not parts.hostname:
        raise SoftwareError(f"the URL has no host name: {mask_url(url)}")
    return url


def url_filename(url: str) -> str:
    """The last path segment of the URL, decoded (may be empty)."""
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


@dataclass
class RemoteFile:
    stream: BinaryIO
    length: int | None
    filename: str


class _BoundedRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urlsplit(newurl).scheme.lower() not in SCHEMES:
            raise RemoteFetchError(f"{mask_url(req.full_url)} redirects to a non-HTTP URL")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


@contextmanager
def open_url(url: str) -> Iterator[RemoteFile]:
    """Open ``url`` for streaming; credentials in it become a Basic Authorization header.

    The header is "unredirected": a redirect to another host never receives the password.
    """
    url = validate_url(url)
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    request = urllib.request.Request(
        urlunsplit((parts.scheme, host, parts.path or "/", parts.query, "")),
        headers={"User-Agent": "goosebit_project", "Accept-Encoding": "identity"},
    )
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        request.add_unredirected_header("Authorization", "Basic " + base64.b64encode(credentials).decode())
    opener = urllib.request.build_opener(_BoundedRedirects)
    shown = mask_url(url)
    try:
        response = opener.open(request, timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as exc:
        exc.close()
        if 300 <= exc.code < 400:
            raise RemoteFetchError(f"{shown} redirects more than {MAX_REDIRECTS} times") from None
        raise RemoteFetchError(f"{shown} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RemoteFetchError(f"could not download {shown}: {reason}") from None
    with response:
        length_header = response.headers.get("Content-Length")
        length = int(length_header) if length_header and length_header.isdigit() else None
        filename = response.headers.get_filename() or url_filename(url) or url_filename(response.url)
        yield RemoteFile(stream=response, length=length, filename=filename)
