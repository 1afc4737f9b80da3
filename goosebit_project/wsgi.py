"""WSGI entry point for gunicorn.

Device traffic (the DDI API under /<tenant>/controller/v1/) dominates and needs none of the
operator middleware: devices have no session, no login, no CSRF token and read no messages. It is
served by a handler without middleware and with the DDI URLconf only, which roughly halves
Django's own cost per poll. Everything else goes through the full stack.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.db.backends.signals import connection_created

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goosebit_project.settings")

operator_application = get_wsgi_application()

from django.conf import settings  # noqa: E402  (after the settings module is chosen)

from goosebit_project.faults import guard_database  # noqa: E402

_DEVICE_PATH = re.compile(r"^/[^/]+/controller/v1/")


class DeviceWSGIHandler(WSGIHandler):
    """A Django handler for the DDI API alone: no middleware, URLconf ``ddi.urls``."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        # A database outage answers 503 with hawkBit's error body, logged once (faults.py).
        # BaseHandler._get_response is Django's own (private, so not in the stubs).
        self._middleware_chain = convert_exception_to_response(
            guard_database(self._get_response, kind="ddi")  # type: ignore[attr-defined]
        )

    def get_response(self, request):
        request.urlconf = "ddi.urls"
        return super().get_response(request)


device_application = DeviceWSGIHandler()


def _limit_statements(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Server processes only: a frozen or overloaded PostgreSQL cancels a statement after
    GOOSEBIT_DB_STATEMENT_TIMEOUT instead of holding a worker. Set here, not in DATABASES, so
    ``manage.py migrate`` and ``import_software`` run without it (a long migration is legitimate).
    """
    if connection.vendor == "postgresql" and settings.GOOSEBIT_DB_STATEMENT_TIMEOUT:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, false)",
                [f"{settings.GOOSEBIT_DB_STATEMENT_TIMEOUT}s"],
            )


connection_created.connect(_limit_statements, dispatch_uid="goosebit_project.wsgi.statement_timeout")


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if _DEVICE_PATH.match(environ.get("PATH_INFO", "")):
        return device_application(environ, start_response)
    return operator_application(environ, start_response)
