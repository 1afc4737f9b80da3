"""How the operator API authenticates: HTTP Basic first, then the admin's session.

Basic comes first so an unauthenticated call gets 401 with ``WWW-Authenticate: Basic
realm="api"`` (DRF answers 403 when the first class has no challenge to offer).

Password guessing is throttled by django-axes (goosebit_project.login_throttle): the Django
request, not DRF's wrapper, is handed to ``authenticate()`` so axes can read the address and
flag the request; a locked-out caller gets 429 with ``Retry-After`` and a JSON ``detail``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.authentication import BasicScheme
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from goosebit_project import login_throttle


class LockedOut(exceptions.Throttled):
    """429; DRF's exception handler turns ``wait`` into the Retry-After header."""

    def __init__(self, wait: int) -> None:
        minutes = max(1, wait // 60)
        super().__init__(
            detail=f"too many failed logins for this user from this address; try again in {minutes} minutes"
        )
        self.wait = wait  # set after __init__, which would append its own sentence to the detail


class BasicAuthentication(authentication.BasicAuthentication):
    www_authenticate_realm = "api"

    def authenticate_credentials(
        self, userid: str, password: str, request: Request | None = None
    ) -> tuple[Any, None]:
        django_request = request._request if request is not None else None
        user = authenticate(request=django_request, username=userid, password=password)
        if django_request is not None and login_throttle.is_locked_out(django_request):
            raise LockedOut(wait=login_throttle.retry_after_seconds())
        if user is None:
            raise exceptions.AuthenticationFailed("invalid username or password")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("user inactive or deleted")
        return user, None


class BasicAuthenticationScheme(BasicScheme):
    """The OpenAPI security scheme of our Basic class (drf-spectacular knows only DRF's own)."""

    target_class = "goosebit_project.api_auth.BasicAuthentication"
