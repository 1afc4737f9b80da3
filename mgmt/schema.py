"""The OpenAPI document of /rest/v1, served apart from our own API's at /api/schema/.

hawkBit's tools know its API from hawkBit's documentation; the document here says which part we
answer. Our views answer plain dicts in hawkBit's shapes rather than DRF serializers, so the
schema describes bodies as JSON objects unless a view annotates them with ``extend_schema``;
paths, methods, path parameters and the list parameters (offset, limit, sort, q) are exact.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

LIST_PARAMETERS = [
    OpenApiParameter("offset", int, description="first entry of the page (default 0)"),
    OpenApiParameter("limit", int, description="page size (default 50, at most 500)"),
    OpenApiParameter("sort", str, description="field:ASC or field:DESC, comma separated"),
    OpenApiParameter("q", str, description="RSQL/FIQL filter over the resource's documented fields"),
]


def only_management_api(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """Preprocessing hook of the /rest/v1 document: its paths only."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/rest/v1/")]


def without_management_api(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """Preprocessing hook of /api/schema/: our own API, not hawkBit's."""
    return [endpoint for endpoint in endpoints if not endpoint[0].startswith("/rest/")]


class MgmtAutoSchema(AutoSchema):
    """JSON bodies by default, hawkBit's list parameters on paged lists, one operation id per view."""

    def get_request_serializer(self) -> Any:
        annotated = super().get_request_serializer()
        if annotated is not None or self.method not in ("POST", "PUT"):
            return annotated
        return OpenApiTypes.OBJECT

    def get_response_serializers(self) -> Any:
        annotated = self._get_serializer() if hasattr(self.view, "get_serializer") else None
        if annotated is not None:
            return super().get_response_serializers()
        overrides = getattr(getattr(self.view, self.method.lower(), None), "kwargs", {})
        if "responses" in overrides:
            return super().get_response_serializers()
        return OpenApiTypes.OBJECT

    def _get_serializer(self) -> Any:  # no guessing: the views have no serializer_class
        return None

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self.method == "GET" and getattr(self.view, "paged", False):
            parameters += LIST_PARAMETERS
        return parameters

    def get_operation_id(self) -> str:
        name = type(self.view).__name__.removesuffix("View")
        return f"mgmt_{name}_{self.method.lower()}"

    def get_tags(self) -> list[str]:
        return ["hawkBit Management API"]
