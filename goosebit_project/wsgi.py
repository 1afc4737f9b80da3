"""WSGI entry point for gunicorn.

Device traffic (the DDI API under /<tenant>/controller/v1/) dominates and needs none of the
operator middleware: devices have no session, no login, no CSRF token and read no messages. It is
served by a handler without middleware and with the DDI URLconf only, which roughly halves
Django's own cost per poll. Everything else goes through the full stack.
"""

from __future__ import annotations

import os
import re
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goosebit_project.settings")

operator_application = get_wsgi_application()

_DEVICE_PATH = re.compile(r"^/[^/]+/controller/v1/")


class DeviceWSGIHandler(WSGIHandler):
    """A Django handler for the DDI API alone: no middleware, URLconf ``ddi.urls``."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        # BaseHandler._get_response is Django's own (private, so not in the stubs).
        self._middleware_chain = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]

    def get_response(self, request):
        request.urlconf = "ddi.urls"
        return super().get_response(request)


device_application = DeviceWSGIHandler()


def application(environ, start_response):
    if _DEVICE_PATH.match(environ.get("PATH_INFO", "")):
        return device_application(environ, start_response)
    return operator_application(environ, start_response)
