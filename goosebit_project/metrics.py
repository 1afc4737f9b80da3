"""Prometheus metrics at /metrics, computed from the database at scrape time.

Every figure is an aggregate over rows, not a per-process counter, so all gunicorn workers (and
all machines) report the same numbers and nothing drifts when devices are bulk-deleted (a
gooseBit bug). Scrapers authenticate with a bearer token instead of an operator login.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from devices.models import Device
from rollouts.models import Action, Rollout
from software.models import Software


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    devices = Gauge("goosebit_devices", "Devices by update state", ["state"], registry=registry)
    counts = dict(Device.objects.values_list("state").annotate(n=Count("pk")).order_by())
    for state in Device.State.values:
        devices.labels(state=state).set(counts.get(state, 0))

    actions = Gauge("goosebit_updates", "Updates (actions) by status", ["status"], registry=registry)
    counts = dict(Action.objects.values_list("status").annotate(n=Count("pk")).order_by())
    for status in Action.Status.values:
        actions.labels(status=status).set(counts.get(status, 0))

    rollouts = Gauge("goosebit_rollouts", "Rollouts by status", ["status"], registry=registry)
    counts = dict(Rollout.objects.values_list("status").annotate(n=Count("pk")).order_by())
    for status in Rollout.Status.values:
        rollouts.labels(status=status).set(counts.get(status, 0))

    Gauge("goosebit_software", "Software packages", registry=registry).set(Software.objects.count())
    return registry


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.GOOSEBIT_METRICS_ENABLE:
        return HttpResponseNotFound()
    token = settings.GOOSEBIT_METRICS_TOKEN
    if token:
        presented = request.META.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(presented.encode(), token.encode()):
            response = HttpResponse(status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
