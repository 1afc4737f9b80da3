"""Pagination of the API's lists: ``?limit=&offset=``, bounded, and strict about its input.

DRF's LimitOffsetPagination passes any number to the database (``limit=9223372036854775809``
was a 500) and silently ignores junk. Here ``limit`` is 1 to 500 (hawkBit's maximum page size)
and ``offset`` 0 to MAX_OFFSET; anything else is a 400 naming the parameter.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.views import APIView

MAX_LIMIT = 500
# Far below the 64-bit limit of SQL LIMIT/OFFSET, so offset + limit never overflows.
MAX_OFFSET = 2**62


def _bounded_int(request: Request, name: str, *, default: int, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name, "")
    if raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not minimum <= int(raw) <= maximum:
        raise exceptions.ValidationError({name: [f"must be a whole number from {minimum} to {maximum}"]})
    return int(raw)


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def get_limit(self, request: Request) -> int:
        return _bounded_int(
            request,
            self.limit_query_param,
            default=self.default_limit or MAX_LIMIT,
            minimum=1,
            maximum=MAX_LIMIT,
        )

    def get_offset(self, request: Request) -> int:
        return _bounded_int(request, self.offset_query_param, default=0, minimum=0, maximum=MAX_OFFSET)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": MAX_LIMIT},
            self.offset_query_param: {"minimum": 0, "maximum": MAX_OFFSET},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters
