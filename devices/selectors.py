"""Reads of the device registry: the DDI lookup, and what the operator screens show (fleet
summary, device targets in bulk, live update log).

The operator reads cost a fixed number of queries whatever the fleet size, because the admin
renders them on pages an operator reloads all day.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any, cast

from django.db import connections, router
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from devices import tenant_config as _tenant_config
from devices.models import Device, DeviceMetadata, TenantConfiguration, TenantConfigurationChange
from goosebit_project.lib import tokens
from goosebit_project.lib.config import poll_seconds
from goosebit_project.lib.errors import Conflict, NotFound
from goosebit_project.lib.versions import Version, versions_equal
from rollouts import selectors as rollout_selectors
from rollouts.models import Action, ActionStatus, Rollout
from software.models import Software

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


# A details line that reads like the reason of a failure (SWUpdate, RAUC and scripts word them so).
_ERROR_LINE = re.compile(
    r"error|fail|fatal|abort|denied|invalid|corrupt|mismatch|timeout|timed out|cannot|"
    r"can't|could not|unable|not found|no space",
    re.IGNORECASE,
)


def error_line(details: Any) -> str:
    """The most telling line of a failure's details: the last that reads like an error, else the
    last non-empty one ("" when there is none)."""
    lines = [str(line).strip() for line in details] if isinstance(details, list) else [str(details or "")]
    lines = [line for line in lines if line]
    for line in reversed(lines):
        if _ERROR_LINE.search(line):
            return line
    return lines[-1] if lines else ""


def action_failures_recent(*, limit: int = 8) -> list[Action]:
    """The newest failed updates of devices that have not recovered, each with ``error_line``.

    One per device (its newest failure), and none for a device whose later update succeeded.
    ``error_line`` comes from the failure feedback (closed + failure) the device sent, or, when it
    sent none or without details, from its newest message: one query in all.
    """
    statuses = ActionStatus.objects.filter(action=OuterRef("pk")).exclude(details=[]).order_by("-id")
    failure_details = statuses.filter(finished=ActionStatus.Finished.FAILURE).values("details")[:1]
    last_details = statuses.values("details")[:1]
    # A later update of the same device that ended: it succeeded (recovered) or failed anew (shown
    # instead). "Later" is the order of "newest" everywhere: created, then id.
    later_result = Action.objects.filter(
        Q(created__gt=OuterRef("created")) | Q(created=OuterRef("created"), pk__gt=OuterRef("pk")),
        device=OuterRef("device"),
        status__in=[Action.Status.FINISHED, Action.Status.ERROR],
    )
    failures: list[Action] = list(
        Action.objects.filter(status=Action.Status.ERROR)
        .filter(~Exists(later_result))
        .select_related("device", "software", "rollout")
        .annotate(failure_details=Subquery(failure_details), last_details=Subquery(last_details))
        .order_by("-finished_at", "-id")[:limit]
    )
    for action in failures:
        # Attributes the dashboard template reads, like the device list's ``target``.
        details = action.failure_details or action.last_details or []  # type: ignore[attr-defined]
        action.error_line = error_line(details)  # type: ignore[attr-defined]
    return failures


@dataclass(frozen=True)
class DayCount:
    day: date
    finished: int
    failed: int


def updates_per_day(*, days: int = 14, now=None) -> list[DayCount]:
    """Updates that ended per day (operator's time zone), oldest first, every day present."""
    today = timezone.localdate(now or timezone.now())
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, time.min))
    rows = (
        Action.objects.filter(
            finished_at__gte=start, status__in=[Action.Status.FINISHED, Action.Status.ERROR]
        )
        .annotate(day=TruncDate("finished_at", tzinfo=timezone.get_current_timezone()))
        .order_by()
        .values("day")
        .annotate(
            finished=Count("pk", filter=Q(status=Action.Status.FINISHED)),
            failed=Count("pk", filter=Q(status=Action.Status.ERROR)),
        )
    )
    by_day = {row["day"]: row for row in rows}
    result = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        row = by_day.get(day, {"finished": 0, "failed": 0})
        result.append(DayCount(day=day, finished=row["finished"], failed=row["failed"]))
    return result


# --- rollouts on the dashboard ----------------------------------------------------------------


def rollouts_active(*, limit: int = 10) -> list[tuple[Rollout, rollout_selectors.RolloutStats]]:
    """Running and paused rollouts, newest first, with their statistics (rollout_stats).

    Two or three queries per rollout (rollout_stats), whatever the number of devices.
    """
    rollouts = (
        Rollout.objects.filter(status__in=[Rollout.Status.RUNNING, Rollout.Status.PAUSED])
        .select_related("software")
        .order_by("-created", "-id")[:limit]
    )
    return [(rollout, rollout_selectors.rollout_stats(rollout=rollout)) for rollout in rollouts]


# --- targets for a page of devices ------------------------------------------------------------


def targets_for_devices(
    *, devices: Sequence[Device], include_held: bool = False
) -> dict[int, rollout_selectors.Target | None]:
    """rollouts.selectors.target_for_device for many devices in at most two queries.

    The device list shows every row's target; asking target_for_device per row would cost one or
    two queries per device. This applies the same rules (and rollout_for_device's order of who
    took the feed last) (tests/devices/test_selectors.py checks
    that both agree) to a whole page: one query for the software of the boards in "latest" mode,
    one for the rollouts that own the (feed, board) pairs in "rollout" mode. ``devices`` must
    have ``assigned_software`` loaded (select_related) to avoid a query per assigned device.
    """
    latest_boards = {
        d.hardware_id for d in devices if d.update_mode == Device.UpdateMode.LATEST and d.hardware_id
    }
    rollout_keys = {
        (d.feed, d.hardware_id)
        for d in devices
        if d.update_mode == Device.UpdateMode.ROLLOUT and d.hardware_id and d.feed
    }

    latest: dict[int, Software] = {}
    if latest_boards:
        candidates: dict[int, list[Software]] = defaultdict(list)
        for candidate in Software.objects.filter(compatibility__in=latest_boards, deleted=False).annotate(
            board=F("compatibility")
        ):
            candidates[candidate.board].append(candidate)
        latest = {
            board: max(found, key=lambda software: (Version(software.version), software.created))
            for board, found in candidates.items()
        }

    owners: dict[tuple[str, int], Rollout] = {}
    if rollout_keys:
        rollouts = (
            Rollout.objects.filter(
                feed__in={feed for feed, _ in rollout_keys},
                status__in=rollout_selectors.FEED_HOLDING_STATUSES,
                software__compatibility__in={board for _, board in rollout_keys},
            )
            .annotate(
                board=F("software__compatibility"),
                weight_rank=rollout_selectors.WEIGHT_RANK,
                took_feed=rollout_selectors.TOOK_FEED,
            )
            .select_related("software")
            .order_by(*rollout_selectors.PRECEDENCE)
        )
        for holding in rollouts:
            owners.setdefault((holding.feed, holding.board), holding)

    targets: dict[int, rollout_selectors.Target | None] = {}
    for device in devices:
        target = None
        mode = device.update_mode
        if mode == Device.UpdateMode.PINNED:
            pass
        elif mode == Device.UpdateMode.ASSIGNED:
            # Same rule as rollouts.selectors.target_for_device: no known hardware needed.
            if device.assigned_software_id is not None:
                target = rollout_selectors.Target(
                    software=cast(Software, device.assigned_software), reason=Action.Reason.ASSIGNED
                )
        elif device.hardware_id is None:
            pass
        elif mode == Device.UpdateMode.LATEST:
            software = latest.get(device.hardware_id)
            if software is not None:
                target = rollout_selectors.Target(software=software, reason=Action.Reason.LATEST)
        else:
            rollout = owners.get((device.feed, device.hardware_id))
            delivering = rollout is not None and rollout.status in rollout_selectors.DELIVERING_STATUSES
            if rollout is not None and (delivering or include_held):
                target = rollout_selectors.Target(
                    software=rollout.software, reason=Action.Reason.ROLLOUT, rollout=rollout
                )
        targets[device.pk] = target
    return targets


# --- software for a set of devices ------------------------------------------------------------


def software_compatible_with_all(*, devices: QuerySet[Device]) -> list[Software]:
    """Software that fits the known hardware of every device of ``devices``, highest version first.

    Devices that have not reported their hardware constrain nothing (they may be assigned any
    software, see devices.services._check_compatible): if no device's hardware is known, every
    software is listed. Empty when ``devices`` is.
    """
    reported = set(devices.order_by().values_list("hardware_id", flat=True).distinct())
    boards = reported - {None}
    if not reported:
        return []
    fitting = Software.objects.filter(deleted=False).prefetch_related("compatibility")
    if boards:
        fitting = (
            fitting.filter(compatibility__in=boards)
            .annotate(fits=Count("compatibility", distinct=True))
            .filter(fits=len(boards))
        )
    return sorted(fitting, key=lambda software: (Version(software.version), software.created), reverse=True)


def feeds_in_use() -> list[str]:
    """Feed names devices or rollouts use, for suggestions."""
    names = set(Device.objects.order_by().values_list("feed", flat=True).distinct())
    names |= set(Rollout.objects.order_by().values_list("feed", flat=True).distinct())
    return sorted(name for name in names if name)


# --- one device: current update, live log, history --------------------------------------------


def action_current_for_device(*, device: Device) -> Action | None:
    """The device's active action, else its newest one.

    A new action is only created when none is active, so the newest action is the active one
    whenever there is one.
    """
    return (
        Action.objects.filter(device=device)
        .select_related("software", "rollout")
        .order_by("-created", "-id")
        .first()
    )


def action_rolled_back_for_device(*, device: Device) -> Action | None:
    """The successful update a rolled-back device no longer runs (None unless it rolled back)."""
    if device.state != Device.State.ROLLED_BACK or not device.installed_action_id:
        return None
    return Action.objects.select_related("software").filter(pk=device.installed_action_id).first()


def action_statuses_after(*, action: Action, after_id: int = 0, limit: int = 500) -> list[ActionStatus]:
    """Log lines of ``action`` newer than ``after_id``, oldest first (the live log's poll)."""
    return list(action.statuses.filter(id__gt=after_id).order_by("id")[:limit])


LOG_PAGE_LINES = 100
"""Log lines the device page shows at once (per update in its history, too)."""


def action_statuses_before(
    *, action: Action, before_id: int | None = None, limit: int = LOG_PAGE_LINES
) -> tuple[list[ActionStatus], bool]:
    """The newest ``limit`` log lines older than ``before_id`` (all if None), oldest first, and
    whether there are older ones still (one query: it reads one line more than it shows)."""
    statuses = action.statuses.order_by("-id")
    if before_id is not None:
        statuses = statuses.filter(id__lt=before_id)
    newest = list(statuses[: limit + 1])
    return newest[:limit][::-1], len(newest) > limit


def action_history_for_device(*, device: Device, limit: int = 20) -> list[Action]:
    """The device's newest actions, each with ``status_count`` and ``recent_statuses`` (its newest
    LOG_PAGE_LINES statuses, newest first): two queries, however long the logs are."""
    return list(
        Action.objects.filter(device=device)
        .select_related("software", "rollout")
        .annotate(status_count=Count("statuses"))
        .prefetch_related(
            Prefetch(
                "statuses",
                queryset=ActionStatus.objects.order_by("-id")[:LOG_PAGE_LINES],
                to_attr="recent_statuses",
            )
        )
        .order_by("-created", "-id")[:limit]
    )


# --- device list filters (shared with the dashboard's counts) ---------------------------------

PRESENCE_CHOICES = (("online", "On time"), ("overdue", "Overdue"), ("never", "Never seen"))
FAILED_CHOICES = (("now", "Last update failed"), ("ever", "Failed at least once"), ("never", "Never failed"))


def devices_with_presence(*, devices: QuerySet[Device], presence: str, now=None) -> QuerySet[Device]:
    threshold = (now or timezone.now()) - overdue_after()
    if presence == "online":
        return devices.filter(last_seen__gte=threshold)
    if presence == "overdue":
        return devices.filter(last_seen__lt=threshold)
    if presence == "never":
        return devices.filter(last_seen__isnull=True)
    raise ValueError(f"unknown presence {presence!r}")


def devices_with_failures(*, devices: QuerySet[Device], failed: str) -> QuerySet[Device]:
    if failed == "now":
        return devices.filter(state=Device.State.ERROR)
    any_failure = Exists(Action.objects.filter(device=OuterRef("pk"), status=Action.Status.ERROR))
    if failed == "ever":
        return devices.filter(any_failure)
    if failed == "never":
        return devices.filter(~any_failure)
    raise ValueError(f"unknown failure filter {failed!r}")


# The buckets of rollouts.selectors.RolloutStats, each reachable as a device list filter.
ROLLOUT_BUCKETS = (
    "succeeded",
    "already_on_version",
    "failed",
    "rolled_back",
    "running",
    "pending",
    "canceled",
    "not_started",
    "left",
)


def devices_in_rollout(
    *, devices: QuerySet[Device], rollout: Rollout, bucket: str | None = None
) -> QuerySet[Device]:
    """The devices behind one number of rollout_stats; without ``bucket``, all it targets.

    Each bucket selects exactly the devices rollout_stats counts in it (a test holds both to
    that): targeted devices by the status of their newest action in the rollout, those without
    one by whether they report the rollout's version already, and "left" for devices that got
    an action but are no longer targeted.
    """
    targeted = rollout_selectors.rollout_targeted_devices(rollout=rollout).values("pk")
    actions = Action.objects.filter(rollout=rollout, device=OuterRef("pk"))
    if bucket is None:
        return devices.filter(pk__in=targeted)
    if bucket == "left":
        return devices.filter(Exists(actions)).exclude(pk__in=targeted)
    if bucket in ("not_started", "already_on_version"):
        idle = devices.filter(pk__in=targeted).filter(~Exists(actions))
        reported = idle.order_by().values_list("sw_version", flat=True).distinct()
        on_version = [text for text in reported if versions_equal(text, rollout.software.version)]
        if bucket == "already_on_version":
            return idle.filter(sw_version__in=on_version)
        return idle.exclude(sw_version__in=on_version)
    # rollout_stats' own bucketing of action statuses (a device being canceled counts as running,
    # one that succeeded but reports an older version now as rolled back).
    name = "succeeded" if bucket == "rolled_back" else bucket
    statuses = [status for status, found in rollout_selectors.STATUS_BUCKET.items() if found == name]
    if not statuses:
        raise ValueError(f"unknown rollout bucket {bucket!r}")
    newest = actions.order_by("-created", "-id").values("status")[:1]
    selected = (
        devices.filter(pk__in=targeted)
        .alias(rollout_status=Subquery(newest))
        .filter(rollout_status__in=statuses)
    )
    if name != "succeeded":
        return selected
    reported_versions = set(selected.order_by().values_list("sw_version", flat=True).distinct())
    older = rollout_selectors.rolled_back_versions(
        reported=reported_versions, version=rollout.software.version
    )
    if bucket == "rolled_back":
        return selected.filter(sw_version__in=older)
    return selected.exclude(sw_version__in=older)


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
