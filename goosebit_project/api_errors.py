"""One error shape for the operator API: {"detail": "<sentence>"} with the right status code.

Services raise goosebit_project.lib.errors.DomainError subclasses carrying their status code
(400 bad input, 404 unknown, 405 not applicable, 409 conflict, 410 gone, 429 quota); the
viewsets never translate them by hand. Serializer validation errors, whose DRF shape is a dict of
lists, are flattened into the same one sentence so clients only ever parse ``detail``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from goosebit_project.lib.errors import DomainError


def flatten_validation_errors(detail: Any, prefix: str = "") -> list[str]:
    """DRF's nested validation errors as flat sentences prefixed with the field path."""
    if isinstance(detail, dict):
        messages: list[str] = []
        for field, value in detail.items():
            if isinstance(field, int):  # an item of a list of objects (many=True): groups[1].name
                label = f"{prefix.rstrip('.')}[{field}]"
            else:
                label = "" if field in ("non_field_errors", "__all__") else f"{prefix}{field}"
            messages += flatten_validation_errors(value, f"{label}." if label else prefix)
        return messages
    if isinstance(detail, list):
        # A list of dicts is a list of nested objects: name each by its index, groups[1].name.
        return [
            message
            for index, item in enumerate(detail)
            for message in flatten_validation_errors(
                item, f"{prefix.rstrip('.')}[{index}]." if isinstance(item, dict) else prefix
            )
        ]
    label = prefix.rstrip(".")
    return [f"{label}: {detail}" if label else str(detail)]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response({"detail": exc.message}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": "; ".join(flatten_validation_errors(exc.detail))}
    return response
