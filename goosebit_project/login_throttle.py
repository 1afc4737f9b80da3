"""Brute-force protection for admin logins and API Basic auth (django-axes).

Failures are counted per *username and address together*: an attacker guessing a password is
stopped after GOOSEBIT_LOGIN_FAILURE_LIMIT tries from their address, while the real user, from
anywhere else, can still log in (a lock by username alone would let anyone lock an operator
out). The lock lasts GOOSEBIT_LOGIN_COOLOFF_MINUTES after the last failure: an attacker who keeps
trying stays locked, the real user gets in once the attacker stops. Device (DDI) requests never
call ``authenticate()`` and are served without middleware, so they are never throttled.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from goosebit_project.lib.addresses import request_address


def client_address(request: HttpRequest) -> str:
    """The caller's address; behind our proxy, the address that proxy appended last."""
    address = request_address(request.META, behind_proxy=settings.GOOSEBIT_BEHIND_PROXY)
    return address or str(request.META.get("REMOTE_ADDR", "")).strip()[:45] or "unknown"


def is_locked_out(request: HttpRequest) -> bool:
    return bool(settings.AXES_ENABLED and getattr(request, "axes_locked_out", False))


def retry_after_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The answer to a locked-out login: the API's own 429, or a page for the admin."""
    if original_response is not None and original_response.status_code == 429:
        return original_response  # the API already answered with its JSON error
    response = TemplateResponse(
        request,
        "admin/locked_out.html",
        {
            "title": "Too many failed logins",
            "cooloff_minutes": settings.GOOSEBIT_LOGIN_COOLOFF_MINUTES,
            "site_header": "goosebit_project",
        },
        status=429,
    )
    response["Retry-After"] = str(retry_after_seconds())
    return response.render()
