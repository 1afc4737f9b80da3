"""Operator requests with a chunked body: 411 Length Required, never a body read as empty.

Django reads CONTENT_LENGTH bytes and takes a missing length as 0, so behind gunicorn a chunked
JSON body reached the API as "no data" and a chunked upload as an empty form. Devices' chunked
bodies are read (ddi.bodies.read_body, bounded); operators' uploads can be gigabytes and must
stream through Django's multipart parser, which needs the length, so they are asked for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

MESSAGE = "a request body needs a Content-Length header; chunked transfer encoding is not accepted here"


def needs_length(request: HttpRequest) -> bool:
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    return chunked and not str(request.META.get("CONTENT_LENGTH", "")).strip()


class LengthRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not needs_length(request):
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return HttpResponse(json.dumps({"detail": MESSAGE}), status=411, content_type="application/json")
        return HttpResponse(MESSAGE, status=411, content_type="text/plain; charset=utf-8")
