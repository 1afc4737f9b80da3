"""The device query language: hawkBit's RSQL over devices, shared by saved filters, the admin,
the API and the Management API (/rest/v1/targets?q=).

The field names are hawkBit's target fields, plus what hawkBit lacks and our devices have: the
feed, the hardware (model, revision), the version the device reports, and ``overdue``.
"""

from __future__ import annotations

from django.db.models import BooleanField, Case, CharField, Q, QuerySet, Value, When
from django.utils import timezone

from devices import selectors as device_selectors
from devices.models import Device
from goosebit_project.lib import rsql
from goosebit_project.lib.errors import InvalidInput

# hawkBit's TargetUpdateStatus, read from our device state. An update under way (waiting, its
# consent pending, installing or being canceled) is hawkBit's "pending"; a rollback counts as an
# error, since the device no longer runs what it was updated to.
UPDATE_STATUS: dict[str, str] = {
    Device.State.UNKNOWN: "unknown",
    Device.State.REGISTERED: "registered",
    Device.State.PENDING: "pending",
    Device.State.WAIT_FOR_CONFIRMATION: "pending",
    Device.State.RUNNING: "pending",
    Device.State.CANCELING: "pending",
    Device.State.FINISHED: "in_sync",
    Device.State.ERROR: "error",
    Device.State.ROLLED_BACK: "error",
}
UPDATE_STATUS_WORDS = ("unknown", "in_sync", "pending", "error", "registered")

DEVICE_QUERY_FIELDS: dict[str, rsql.Field] = {
    "id": rsql.Field("controller_id"),
    "controllerId": rsql.Field("controller_id"),
    "name": rsql.Field("name"),
    "description": rsql.Field("description"),
    "createdAt": rsql.Field("created", type="timestamp"),
    "lastModifiedAt": rsql.Field("updated", type="timestamp"),
    "updateStatus": rsql.Field(
        "update_status", type="enum", choices={word: word for word in UPDATE_STATUS_WORDS}
    ),
    "address": rsql.Field("last_ip"),
    "ipAddress": rsql.Field("last_ip"),
    "lastControllerRequestAt": rsql.Field("last_seen", type="timestamp"),
    "lastTargetQuery": rsql.Field("last_seen", type="timestamp"),
    "assignedDS.name": rsql.Field("assigned_software__name"),
    "assignedDS.version": rsql.Field("assigned_software__version"),
    "installedDS.name": rsql.Field("installed_action__software__name"),
    "installedDS.version": rsql.Field("installed_action__software__version"),
    "attribute": rsql.Field("attributes", json_key=True),
    "metadata": rsql.Field("metadata", related_key=("metadata__key", "metadata__value")),
    # Not in hawkBit: what our devices have besides.
    "feed": rsql.Field("feed"),
    "hardware.model": rsql.Field("hardware__model"),
    "hardware.revision": rsql.Field("hardware__revision"),
    "swVersion": rsql.Field("sw_version"),
    "reportedVersion": rsql.Field("sw_version"),
    "overdue": rsql.Field("overdue", type="boolean"),
    # hawkBit's TargetFields.TAG: ``tag==prod`` matches the devices with a tag of that name.
    "tag": rsql.Field("tags__name"),
    "tag.name": rsql.Field("tags__name"),
}
# Kept under hawkBit's name for /rest/v1/targets.
TARGET_QUERY_FIELDS = DEVICE_QUERY_FIELDS


def with_update_status(queryset: QuerySet[Device]) -> QuerySet[Device]:
    """Devices annotated with hawkBit's updateStatus word, so q= and sort= can use it."""
    return queryset.annotate(
        update_status=Case(
            *[When(state=state, then=Value(word)) for state, word in UPDATE_STATUS.items()],
            default=Value("unknown"),
            output_field=CharField(),
        )
    )


def with_overdue(queryset: QuerySet[Device]) -> QuerySet[Device]:
    """Devices annotated with ``overdue``: seen, but longer ago than the tenant's polling time
    plus its overdue time allow (devices.selectors.is_overdue). Never seen is not overdue."""
    threshold = timezone.now() - device_selectors.overdue_after()
    return queryset.annotate(
        overdue=Case(
            When(last_seen__lt=threshold, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def queryable(queryset: QuerySet[Device]) -> QuerySet[Device]:
    """``queryset`` with the annotations DEVICE_QUERY_FIELDS refer to."""
    return with_overdue(with_update_status(queryset))


def targets_queryset() -> QuerySet[Device]:
    return queryable(Device.objects.select_related("installed_action"))


def device_query_compile(*, query: str) -> Q:
    """The ``Q`` for a device query (over a ``queryable`` queryset); InvalidInput says what is wrong."""
    try:
        return rsql.compile_query(query, DEVICE_QUERY_FIELDS)
    except rsql.RsqlError as error:
        raise InvalidInput(str(error)) from error


def devices_matching(*, query: str) -> QuerySet[Device]:
    """The devices a query selects; InvalidInput (the RSQL message) for a query that is not one."""
    # No distinct() needed: related fields (metadata.<key>) compile to EXISTS, not a join.
    return queryable(Device.objects.all()).filter(device_query_compile(query=query))
