"""Reads of the device registry: the DDI lookup, and what the operator screens show (fleet
summary, device targets in bulk, live update log).

The operator reads cost a fixed number of queries whatever the fleet size, because the admin
renders them on pages an operator reloads all day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from django.db import connections, router
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from devices import tenant_config as _tenant_config
from devices.models import Device, DeviceMetadata, TenantConfiguration, TenantConfigurationChange
from goosebit_project.lib import tokens
from goosebit_project.lib.config import poll_seconds
from goosebit_project.lib.errors import Conflict, NotFound

# --- the DDI lookup ---------------------------------------------------------------------------


# Left out (deferred): what the poll does not need; assignment_options loads only when an action
# is created.
_POLL_FIELDS = [
    field for field in Device._meta.concrete_fields if field.name not in ("attributes", "assignment_options")
]
_POLL_ATTNAMES = [field.attname for field in _POLL_FIELDS]


@cache
def _device_lookup(alias: str) -> tuple[str, list[list]]:
    """The lookup's SQL and, per column, the backend's value converters (as the ORM applies)."""
    connection = connections[alias]
    columns = ", ".join(connection.ops.quote_name(cast(str, field.column)) for field in _POLL_FIELDS)
    table = connection.ops.quote_name(Device._meta.db_table)
    sql = f"SELECT {columns} FROM {table} WHERE {connection.ops.quote_name('controller_id')} = %s"
    converters = []
    for field in _POLL_FIELDS:
        column = field.get_col(Device._meta.db_table)
        found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        converters.append([(converter, column) for converter in found])
    return sql, converters


def device_for_poll(*, controller_id: str) -> Device | None:
    """The device behind a DDI request, without its (possibly large) attributes.

    Every DDI request starts here, so the SQL is written once and the row becomes a model through
    ``Model.from_db`` (what the ORM itself calls), with the backend's converters: on a poll,
    compiling a queryset or mapping a raw() cursor's columns cost more than the indexed lookup.
    Fields left out are deferred and load on access like any deferred field.
    """
    alias = router.db_for_read(Device)
    sql, converters = _device_lookup(alias)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(sql, [controller_id])
        row = cursor.fetchone()
    if row is None:
        return None
    values = []
    for value, column_converters in zip(row, converters, strict=True):
        for converter, column in column_converters:
            value = converter(value, column, connection)
        values.append(value)
    return Device.from_db(alias, _POLL_ATTNAMES, values)


# --- tokens -----------------------------------------------------------------------------------

TOKEN_NOT_READABLE = "not readable until the device authenticates or the token is rotated"


def token_unreadable_reason(*, device: Device) -> str | None:
    """Why the device's token cannot be shown, or None when it can (or there is none)."""
    state = device.token_state
    if state == tokens.TokenState.LEGACY:
        return f"The token is from before tokens were kept encrypted: {TOKEN_NOT_READABLE}."
    if state == tokens.TokenState.UNREADABLE:
        return (
            "The token was encrypted with a key GOOSEBIT_TOKEN_KEYS no longer lists (or "
            f"GOOSEBIT_SECRET_KEY changed): {TOKEN_NOT_READABLE}."
        )
    return None


def device_token(*, device: Device) -> str:
    """The device's TargetToken in clear, for an operator allowed to read it (decrypts once).

    Raises NotFound when the device has no token and Conflict when it is not readable.
    """
    if not device.has_token:
        raise NotFound(f"device {device.controller_id} has no token")
    reason = token_unreadable_reason(device=device)
    if reason is not None:
        raise Conflict(reason)
    token = tokens.decrypt_token(device.token_encrypted)
    if token is None:  # a listed key id whose key does not decrypt it: tampered or a key collision
        raise Conflict(f"No configured key decrypts the token: {TOKEN_NOT_READABLE}.")
    return token


# --- tenant settings ------------------------------------------------------------------------


def tenant_config() -> _tenant_config.TenantConfig:
    """The runtime tenant settings as typed values (devices.tenant_config), no query when cached.

    Read by the DDI poll and authentication on every request: at most one query per
    GOOSEBIT_TENANT_CONFIG_TTL seconds per process.
    """
    return _tenant_config.cache.get()


@dataclass(frozen=True)
class TenantSetting:
    """One key as the admin, API and command show it (hawkBit's system config value)."""

    key: str
    label: str
    kind: str
    help: str
    value: Any
    default: Any
    is_global: bool  # hawkBit's "global": no stored value, the default applies
    created_at: datetime | None
    created_by: str
    last_modified_at: datetime | None
    last_modified_by: str
    secret: bool


def tenant_settings_list() -> list[TenantSetting]:
    """Every known key with its current value and default, in the registry's order: one query."""
    rows = {row.key: row for row in TenantConfiguration.objects.all()}
    values = _tenant_config.effective_values({key: row.value for key, row in rows.items()})
    settings_list = []
    for name, key in _tenant_config.KEYS.items():
        row = rows.get(name)
        settings_list.append(
            TenantSetting(
                key=name,
                label=key.label,
                kind=key.kind,
                help=key.help,
                value=values[name],
                default=key.default(),
                is_global=row is None,
                created_at=row.created_at if row else None,
                created_by=row.created_by if row else "",
                last_modified_at=row.last_modified_at if row else None,
                last_modified_by=row.last_modified_by if row else "",
                secret=key.secret,
            )
        )
    return settings_list


def tenant_setting_get(*, key: str) -> TenantSetting:
    """One key (NotFound naming it when unknown)."""
    _tenant_config.key_for(key)
    return next(item for item in tenant_settings_list() if item.key == key)


def tenant_setting_changes(*, limit: int = 20) -> list[TenantConfigurationChange]:
    """The newest changes and resets of tenant settings."""
    return list(TenantConfigurationChange.objects.all()[:limit])


# --- presence ---------------------------------------------------------------------------------


def overdue_after() -> timedelta:
    """How long after its last poll a device counts as overdue: hawkBit's pollingTime plus
    pollingOverdueTime (tenant settings).

    last_seen holds the device's own poll time, but it is recorded at most every
    GOOSEBIT_LAST_SEEN_INTERVAL and then written by the worker's timer within
    GOOSEBIT_LAST_SEEN_FLUSH_SECONDS (devices.services.device_record_poll), so an on-time device
    can look that much older: pollingOverdueTime's default is that lag plus ten seconds of network
    and clock jitter (gooseBit uses +10 s).
    """
    config = tenant_config()
    return timedelta(seconds=poll_seconds(config.polling_time) + config.polling_overdue_seconds)


def is_overdue(last_seen, *, now=None) -> bool:
    if last_seen is None:
        return False
    return (now or timezone.now()) - last_seen > overdue_after()


@dataclass(frozen=True)
class Presence:
    online: int
    overdue: int
    never_seen: int

    @property
    def total(self) -> int:
        return self.online + self.overdue + self.never_seen


def device_presence_counts(*, now=None) -> Presence:
    """Devices polling on time, overdue, and never seen: one aggregate query."""
    threshold = (now or timezone.now()) - overdue_after()
    counts = Device.objects.aggregate(
        online=Count("pk", filter=Q(last_seen__gte=threshold)),
        overdue=Count("pk", filter=Q(last_seen__lt=threshold)),
        never_seen=Count("pk", filter=Q(last_seen__isnull=True)),
    )
    return Presence(**counts)


def device_state_counts() -> dict[str, int]:
    """Devices per update state, every state present (zero when none): one GROUP BY query."""
    counts = dict.fromkeys(Device.State.values, 0)
    for row in Device.objects.order_by().values("state").annotate(n=Count("pk")):
        counts[row["state"]] = row["n"]
    return counts


# --- failures and activity --------------------------------------------------------------------


# --- rollouts on the dashboard ----------------------------------------------------------------


# --- targets for a page of devices ------------------------------------------------------------


# --- software for a set of devices ------------------------------------------------------------


# --- one device: current update, live log, history --------------------------------------------


"""Log lines the device page shows at once (per update in its history, too)."""


# --- device list filters (shared with the dashboard's counts) ---------------------------------

PRESENCE_CHOICES = (("online", "On time"), ("overdue", "Overdue"), ("never", "Never seen"))


def devices_with_presence(*, devices: QuerySet[Device], presence: str, now=None) -> QuerySet[Device]:
    threshold = (now or timezone.now()) - overdue_after()
    if presence == "online":
        return devices.filter(last_seen__gte=threshold)
    if presence == "overdue":
        return devices.filter(last_seen__lt=threshold)
    if presence == "never":
        return devices.filter(last_seen__isnull=True)
    raise ValueError(f"unknown presence {presence!r}")


# --- operator metadata ------------------------------------------------------------------------


def device_metadata_list(*, device: Device) -> QuerySet[DeviceMetadata]:
    return DeviceMetadata.objects.filter(device=device).order_by("key")


def device_metadata_get(*, device: Device, key: str) -> DeviceMetadata:
    entry = DeviceMetadata.objects.filter(device=device, key=key).first()
    if entry is None:
        raise NotFound(f"device {device.controller_id} has no metadata {key!r}")
    return entry


def next_poll_expected(last_seen: datetime) -> datetime:
    """When a device that polled at ``last_seen`` should poll next (hawkBit's nextExpectedRequestAt)."""
    return last_seen + timedelta(seconds=poll_seconds(tenant_config().polling_time))
