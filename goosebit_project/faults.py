"""Honest answers while the database is unreachable: 503 with Retry-After, never a 500.

Both handlers of goosebit_project.wsgi use this one place: the device handler (no middleware)
wraps its view call with ``guard_database``, the operator stack has
``DatabaseUnavailableMiddleware``. The answer's body is the shape the client already parses:
hawkBit's ExceptionInfo for devices, ``{"detail": ...}`` for /api/, a plain page otherwise.

An outage is logged once when it starts and once when the database is back (a process-wide flag
under a lock), not as a traceback per request: with a thousand devices polling, per-request
tracebacks buried the log (13.8 MB in 20 s).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.backends.signals import connection_created
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from goosebit_project.lib.errors import is_no_space

logger = logging.getLogger("goosebit_project.database")

RETRY_AFTER_SECONDS = 10
MESSAGE = "The database is unavailable; try again later."
# Errors that mean "cannot talk to the database", not "bad query". psycopg's connection errors
# reach us wrapped by Django as these two.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError)

_DDI_ERROR = (
    "org.springframework.dao.DataAccessResourceFailureException",
    "hawkbit.server.error.serviceUnavailable",
)


class _Outage:
    """Whether this process currently believes the database is gone; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down = False

    @property
    def down(self) -> bool:
        return self._down

    def went_away(self, exc: BaseException) -> None:
        with self._lock:
            if self._down:
                return
            self._down = True
        logger.error("database unavailable, answering 503 until it is back: %s", str(exc).strip())

    def came_back(self) -> None:
        with self._lock:
            if not self._down:
                return
            self._down = False
        logger.warning("database is back")


outage = _Outage()


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    outage.came_back()


connection_created.connect(_on_connection_created, dispatch_uid="goosebit_project.faults")


def _close_broken_connections() -> None:
    """Drop the connection that failed so the next request opens a fresh one (no restart)."""
    for connection in connections.all(initialized_only=True):
        try:
            connection.close()
        except Exception:  # closing a dead connection may fail again; nothing more to do
            logger.debug("closing a broken database connection failed", exc_info=True)


def unavailable_response(request: HttpRequest, exc: BaseException, *, kind: str) -> HttpResponse:
    """The 503 for ``kind`` "ddi", "api" or "page"; records the outage and resets connections."""
    outage.went_away(exc)
    _close_broken_connections()
    if kind == "ddi":
        exception_class, error_code = _DDI_ERROR
        body = json.dumps({"exceptionClass": exception_class, "errorCode": error_code, "message": MESSAGE})
        response = HttpResponse(body.encode(), status=503, content_type="application/json")
    elif kind == "api":
        response = HttpResponse(
            json.dumps({"detail": MESSAGE}).encode(), status=503, content_type="application/json"
        )
    else:
        response = HttpResponse(
            f"<!doctype html><title>Service unavailable</title><h1>Service unavailable</h1><p>{MESSAGE}</p>",
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Content-Length"] = str(len(response.content))
    response["Cache-Control"] = "no-store"
    # The outage is logged once above; keep Django from logging every 503 answer as an error.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def guard_database(
    get_response: Callable[[HttpRequest], HttpResponse], *, kind: str
) -> Callable[[HttpRequest], HttpResponse]:
    def guarded(request: HttpRequest) -> HttpResponse:
        try:
            return get_response(request)
        except DATABASE_UNAVAILABLE as exc:
            return unavailable_response(request, exc, kind=kind)

    return guarded


def no_space_response(request: HttpRequest) -> HttpResponse:
    """507 for a request whose upload Django could not spool: the temp folder's disk is full."""
    message = "No space left on the server for this upload."
    if request.path.startswith("/api/"):
        response = HttpResponse(json.dumps({"detail": message}).encode(), content_type="application/json")
    else:
        response = HttpResponse(
            "<!doctype html><title>Insufficient storage</title>"
            f"<h1>Insufficient storage</h1><p>{message}</p>",
            content_type="text/html; charset=utf-8",
        )
    response.status_code = 507
    for handler in getattr(request, "upload_handlers", []):
        handler.upload_interrupted()  # removes the partial temporary file
    logger.error("upload refused, no space left: %s %s", request.method, request.path)
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


class DatabaseUnavailableMiddleware:
    """Operator side: the admin gets a plain page, /api/ its JSON error shape, /healthz 503.

    Also answers 507 when the disk under the upload temp folder is full while Django reads a
    multipart body (the admin's upload form), instead of a 500.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_no_space(exception):
            return no_space_response(request)
        if not isinstance(exception, DATABASE_UNAVAILABLE):
            return None
        kind = "api" if request.path.startswith("/api/") else "page"
        return unavailable_response(request, exception, kind=kind)
