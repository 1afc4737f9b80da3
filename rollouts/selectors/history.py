"""Reads of actions and their status log: a device's current and past updates, recent failures, trends."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import (
    Count,
    Exists,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from devices.models import Device
from goosebit_project.lib.versions import Version
from rollouts.models import Action, ActionStatus, Rollout
from software.models import Software


def action_active_for_device(*, device: Device) -> Action | None:
    return (
        Action.objects.select_related("software")
        .filter(device=device, status__in=Action.ACTIVE_STATUSES)
        .first()
    )


def action_latest_for_software(*, device: Device, software: Software) -> Action | None:
    return Action.objects.filter(device=device, software=software).order_by("-created", "-id").first()


def action_statuses_newest_first(*, action: Action) -> QuerySet[ActionStatus]:
    """The action's update log, newest first (the API pages it)."""
    return ActionStatus.objects.filter(action=action).order_by("-id")


def active_update_count(*, rollout: Rollout | None = None, exclude_device: Device | None = None) -> int:
    """Devices updating now (pending or running actions), optionally within one rollout.

    An update waiting for the device's confirmation holds its place, as one the device has not
    fetched yet does: otherwise a wave of confirmations could exceed the caps.
    """
    actions = Action.objects.filter(
        status__in=[Action.Status.PENDING, Action.Status.WAIT_FOR_CONFIRMATION, Action.Status.RUNNING]
    )
    if rollout is not None:
        actions = actions.filter(rollout=rollout)
    if exclude_device is not None:
        actions = actions.exclude(device=exclude_device)
    return actions.count()


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


def software_compatible_with_all(*, devices: QuerySet[Device]) -> list[Software]:
    """Software that fits the known hardware of every device of ``devices``, highest version first.

    Devices that have not reported their hardware constrain nothing, and a release that lists
    no hardware fits every device (see rollouts.services.assignment._check_compatible): if no
    device's hardware is known, every software is listed. Empty when ``devices`` is.
    """
    reported = set(devices.order_by().values_list("hardware_id", flat=True).distinct())
    boards = reported - {None}
    if not reported:
        return []
    fitting = Software.objects.filter(deleted=False).prefetch_related("compatibility")
    if boards:
        fits_all = (
            Software.objects.filter(compatibility__in=boards)
            .annotate(fits=Count("compatibility", distinct=True))
            .filter(fits=len(boards))
            .values("pk")
        )
        fitting = fitting.filter(Q(pk__in=fits_all) | Q(compatibility__isnull=True)).distinct()
    return sorted(fitting, key=lambda software: (Version(software.version), software.created), reverse=True)


def feeds_in_use() -> list[str]:
    """Feed names devices or rollouts use, for suggestions."""
    names = set(Device.objects.order_by().values_list("feed", flat=True).distinct())
    names |= set(Rollout.objects.order_by().values_list("feed", flat=True).distinct())
    return sorted(name for name in names if name)


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


FAILED_CHOICES = (("now", "Last update failed"), ("ever", "Failed at least once"), ("never", "Never failed"))


def devices_with_failures(*, devices: QuerySet[Device], failed: str) -> QuerySet[Device]:
    if failed == "now":
        return devices.filter(state=Device.State.ERROR)
    any_failure = Exists(Action.objects.filter(device=OuterRef("pk"), status=Action.Status.ERROR))
    if failed == "ever":
        return devices.filter(any_failure)
    if failed == "never":
        return devices.filter(~any_failure)
    raise ValueError(f"unknown failure filter {failed!r}")
