"""What every /rest/v1 view shares: authentication, hawkBit permissions, errors, JSON and HAL+JSON.

A view declares ``required_permissions = {"GET": ["READ_TARGET"], ...}`` (mgmt.permissions) and
answers plain dicts built by mgmt.representations; errors raised anywhere below (service
DomainErrors, DRF errors, mgmt.errors.MgmtError) leave as hawkBit's error body.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from django.urls import reverse
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from goosebit_project.api_auth import BasicAuthentication
from mgmt import errors
from mgmt.permissions import HawkbitPermission
from mgmt.schema import MgmtAutoSchema


class HalJsonRenderer(JSONRenderer):
    """hawkBit answers ``Accept: application/hal+json`` with the same body (its _links are HAL)."""

    media_type = "application/hal+json"


class HalJsonParser(JSONParser):
    media_type = "application/hal+json"


class MgmtView(APIView):
    authentication_classes = [BasicAuthentication, SessionAuthentication]
    permission_classes = [HawkbitPermission]
    renderer_classes = [JSONRenderer, HalJsonRenderer]
    parser_classes = [JSONParser, HalJsonParser]
    required_permissions: ClassVar[dict[str, list[str]]] = {}
    schema = MgmtAutoSchema()
    # A paged list (mgmt.paging): its GET documents offset, limit, sort and q.
    paged: ClassVar[bool] = False

    def get_exception_handler(self) -> Callable[..., Any]:
        return errors.exception_handler

    def body_object(self, request: Request) -> dict[str, Any]:
        """The request body as a JSON object, or hawkBit's 400 naming what was sent instead."""
        if not isinstance(request.data, dict):
            raise errors.body_not_readable("the request body must be a JSON object")
        return request.data

    def body_list(self, request: Request, *, max_items: int = 500) -> list[Any]:
        """The request body as a JSON array (hawkBit's create endpoints take lists)."""
        if not isinstance(request.data, list):
            raise errors.body_not_readable("the request body must be a JSON array")
        if len(request.data) > max_items:
            raise errors.bad_request(f"at most {max_items} entries per request, got {len(request.data)}")
        return request.data


def millis(moment: datetime | None) -> int | None:
    """hawkBit's timestamps: milliseconds since the epoch (UTC)."""
    return None if moment is None else int(moment.timestamp() * 1000)


def link(request: Request, name: str, *args: Any, query: str = "") -> dict[str, str]:
    """``{"href": <absolute URL>}`` of a named /rest/v1 route, as hawkBit's _links entries."""
    href = request.build_absolute_uri(reverse(f"mgmt:{name}", args=args))
    return {"href": href + (f"?{query}" if query else "")}


def without_none(body: dict[str, Any]) -> dict[str, Any]:
    """hawkBit's models are @JsonInclude(NON_NULL): absent values are left out, not null."""
    return {key: value for key, value in body.items() if value is not None}
