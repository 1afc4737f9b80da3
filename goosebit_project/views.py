"""Project-level views that belong to no app."""

from __future__ import annotations

from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from goosebit_project import faults


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and the Docker HEALTHCHECK: 200 when the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        faults.outage.went_away(exc)
        response = JsonResponse({"status": "error", "database": "unreachable"}, status=503)
        response["Retry-After"] = str(faults.RETRY_AFTER_SECONDS)
        response._has_been_logged = True  # type: ignore[attr-defined]  # logged once per outage
        return response
    return JsonResponse({"status": "ok", "database": "ok"})
