"""hawkBit's list conventions: ``offset``/``limit``/``sort``/``q`` in, a PagedList out.

- ``offset`` (default 0) and ``limit`` (default 50, at most 500) are lenient as in hawkBit: a
  negative offset reads as 0, a limit below 1 as 50 and one above 500 as 500; a value that is not
  a whole number is a 400 naming the parameter.
- ``sort=field:ASC,other:DESC``: field names are hawkBit's (matched case-insensitively, as its
  enums are); an unknown field or direction is a 400 with hawkBit's error code.
- ``q=`` is RSQL/FIQL over the fields hawkBit documents for the resource (goosebit_project.lib.rsql).
- The answer is ``{"content": [...], "total": N, "size": n}``: ``size`` is the page's length.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from goosebit_project.lib import rsql
from mgmt import errors

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 2**31 - 1  # hawkBit's offset is an int
MAX_SORT_LENGTH = 1024


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        raise errors.bad_request(f"{name} must be a whole number, got {raw[:40]!r}") from None
    return value


def page_bounds(request: Request) -> tuple[int, int]:
    """(offset, limit) with hawkBit's sanitizing."""
    offset = min(max(_int_param(request, "offset", 0), 0), MAX_OFFSET)
    limit = _int_param(request, "limit", DEFAULT_LIMIT)
    if limit < 1:
        limit = DEFAULT_LIMIT
    return offset, min(limit, MAX_LIMIT)


def _normalize(name: str) -> str:
    return name.strip().upper()


def order_by(request: Request, sort_fields: Mapping[str, str], default: Sequence[str]) -> list[str]:
    """ORM ordering for ``sort=``; ``sort_fields`` maps hawkBit's field names to ORM lookups.

    The primary key is appended so pages never overlap when the sorted values tie.
    """
    raw = request.query_params.get("sort", "")
    if not raw.strip():
        return [*default, "pk"]
    if len(raw) > MAX_SORT_LENGTH:
        raise errors.sort_syntax(f"the sort parameter is longer than {MAX_SORT_LENGTH} characters")
    known = {_normalize(name): lookup for name, lookup in sort_fields.items()}
    ordering: list[str] = []
    for part in raw.split(","):
        if not part.strip():
            continue
        pieces = part.split(":")
        if len(pieces) != 2:
            raise errors.sort_syntax(
                f"sort takes field:ASC or field:DESC separated by commas, got {part.strip()!r}"
            )
        field, direction = _normalize(pieces[0]), pieces[1].strip().upper()
        if field not in known:
            allowed = ", ".join(sorted(sort_fields))
            raise errors.sort_field(f"cannot sort by {pieces[0].strip()!r}; sortable fields: {allowed}")
        if direction not in ("ASC", "DESC"):
            raise errors.sort_direction(f"sort direction must be ASC or DESC, got {pieces[1].strip()!r}")
        ordering.append(("-" if direction == "DESC" else "") + known[field])
    return [*ordering, "pk"]


def filtered(request: Request, queryset: QuerySet, query_fields: Mapping[str, rsql.Field]) -> QuerySet:
    """The queryset narrowed by ``q=`` (RSQL); syntax and field errors are hawkBit's 400s."""
    query = request.query_params.get("q", "")
    if not query.strip():
        return queryset
    try:
        condition = rsql.compile_query(query, query_fields)
    except rsql.UnknownField as exc:
        raise errors.rsql_field(str(exc)) from None
    except rsql.RsqlError as exc:
        raise errors.rsql_syntax(str(exc)) from None
    return queryset.filter(condition).distinct()


def paged_list(items: list[dict[str, Any]], total: int) -> dict[str, Any]:
    return {"content": items, "total": total, "size": len(items)}


def paged_response(
    request: Request,
    queryset: QuerySet,
    *,
    render: Callable[[Any], dict[str, Any]],
    sort_fields: Mapping[str, str],
    default_sort: Sequence[str],
    query_fields: Mapping[str, rsql.Field] | None = None,
) -> Response:
    """One page of a resource as hawkBit answers a list: filter, count, sort, slice, render."""
    if query_fields is not None:
        queryset = filtered(request, queryset, query_fields)
    offset, limit = page_bounds(request)
    total = queryset.count()
    page = list(queryset.order_by(*order_by(request, sort_fields, default_sort))[offset : offset + limit])
    return Response(paged_list([render(item) for item in page], total))
