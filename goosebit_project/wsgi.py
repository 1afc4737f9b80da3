"""WSGI entry point for gunicorn.

Device traffic (the DDI API under /<tenant>/controller/v1/) dominates and needs none of the
operator middleware: devices have no session, no login, no CSRF token and read no messages. It is
served by a handler without middleware and with the DDI URLconf only, which roughly halves
Django's own cost per poll. Everything else goes through the full stack.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goosebit_project.settings")

operator_application = get_wsgi_application()

_DEVICE_PATH = re.compile(r"^/[^/]+/controller/v1/")


class DeviceWSGIHandler(WSGIHandler):
    """A Django handler for the DDI API alone: no middleware, URLconf ``ddi.urls``."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response)

    def get_response(self, request):
        request.urlconf = "ddi.urls"
        return super().get_response(request)


device_application = DeviceWSGIHandler()

# Used when DATA_UPLOAD_MAX_MEMORY_SIZE is None (unlimited): a chunked body is still read whole.
_FALLBACK_CHUNKED_LIMIT = 10 * 1024 * 1024


def read_chunked_body(environ: dict[str, Any], *, limit: int) -> None:
    """Give a chunked request body (no Content-Length) a length Django can read.

    Django's WSGIRequest reads ``CONTENT_LENGTH`` bytes and takes a missing one as 0, so under
    gunicorn, which passes chunked bodies through ``wsgi.input`` undecoded-length, every chunked
    feedback read as empty. At most ``limit + 1`` bytes are read: a body longer than ``limit``
    arrives as ``limit + 1`` bytes, which every size check of ``limit`` or less still refuses.
    """
    if environ.get("CONTENT_LENGTH"):
        return
    if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return
    body = environ["wsgi.input"].read(limit + 1)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if _DEVICE_PATH.match(environ.get("PATH_INFO", "")):
        read_chunked_body(environ, limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE or _FALLBACK_CHUNKED_LIMIT)
        return device_application(environ, start_response)
    return operator_application(environ, start_response)
