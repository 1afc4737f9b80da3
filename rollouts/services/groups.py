"""Rollout groups: defining them, freezing them at the start, and advancing or pausing on results.

Nothing here fans out. Starting a rollout freezes each group's size as an id boundary (two
queries per group) and opens the first group; devices then pick their update up on their next
poll (rollouts.selectors.targets). Whenever a device of the rollout finishes, fails or rolls back,
``rollout_evaluate`` reads the groups' statistics (one query) and:

- pauses the rollout when a running group's error condition holds (hawkBit's emergency
  shutdown; the group becomes "error" and the reason is kept);
- finishes a running group whose success condition holds, then starts the next group, or pauses
  the rollout when the group's success action says so;
- finishes the rollout when its last group finished.

Every step is a compare-and-swap on the old status, so several workers handling feedback at once
advance a group exactly once: the loser's update matches no row and it stops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from goosebit_project.lib.errors import Conflict, InvalidInput
from rollouts import selectors
from rollouts.models import Action, Rollout, RolloutGroup
from rollouts.selectors.device_queries import device_query_compile
from rollouts.services.cache import targets_changed

MAX_GROUPS = 500  # hawkBit's default quota of groups per rollout
MAX_GROUP_NAME_LENGTH = 128
MAX_SETTING = 2**31 - 1
GroupStatus = RolloutGroup.Status
SuccessAction = RolloutGroup.SuccessAction


class InvalidSetting(InvalidInput):
    """A bad rollout or group setting: ``field`` names it (``pause_min_results``,
    ``groups[1].target_percentage``), ``problem`` says what is wrong, so each interface can name
    it its own way (the API by field name, the admin by the form's label)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class GroupSpec:
    """A group as operators define it; rollout_set_groups stores them."""

    name: str
    query: str = ""
    target_count: int | None = None
    target_percentage: float | None = None
    success_threshold: int = 100
    success_action: str = SuccessAction.NEXT_GROUP
    error_threshold: int | None = None
    error_count: int | None = None
    confirmation_required: bool | None = None
    description: str = ""


def groups_even(
    amount: int,
    *,
    success_threshold: int = 100,
    success_action: str = SuccessAction.NEXT_GROUP,
    error_threshold: int | None = None,
    error_count: int | None = None,
) -> list[GroupSpec]:
    """hawkBit's ``amountGroups``: ``amount`` groups of (nearly) equal size, larger ones first.

    Group i takes 100/(amount - i) % of the devices the earlier groups left, so 10 devices in 3
    groups are 4, 3 and 3.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_GROUPS:
        raise InvalidSetting("amountGroups", f"must be a whole number from 1 to {MAX_GROUPS}, got {amount!r}")
    return [
        GroupSpec(
            name=f"Group {index + 1}",
            target_percentage=None if index == amount - 1 else 100 / (amount - index),
            success_threshold=success_threshold,
            success_action=success_action,
            error_threshold=error_threshold,
            error_count=error_count,
        )
        for index in range(amount)
    ]


def groups_canary(
    *,
    canary_count: int | None = None,
    canary_percentage: float | None = None,
    waves: int = 1,
    success_threshold: int = 100,
    error_threshold: int | None = None,
    error_count: int | None = None,
    pause_after_canary: bool = False,
) -> list[GroupSpec]:
    """The common shape in one call: a canary group, then the rest in ``waves`` equal waves.

    Every group shares the conditions; ``pause_after_canary`` makes the rollout wait for an
    operator after the canary succeeded.
    """
    canary = GroupSpec(
        name="Canary",
        target_count=canary_count,
        target_percentage=canary_percentage,
        success_threshold=success_threshold,
        success_action=SuccessAction.PAUSE if pause_after_canary else SuccessAction.NEXT_GROUP,
        error_threshold=error_threshold,
        error_count=error_count,
    )
    rest = groups_even(
        waves, success_threshold=success_threshold, error_threshold=error_threshold, error_count=error_count
    )
    return [canary, *(GroupSpec(**{**spec.__dict__, "name": f"Wave {i + 1}"}) for i, spec in enumerate(rest))]


def _number(where: str, value: object, *, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSetting(where, f"must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise InvalidSetting(where, f"must be from {low} to {high}, got {value}")


def groups_validate(groups: Sequence[GroupSpec]) -> list[GroupSpec]:
    """The groups, checked: InvalidSetting names the first bad field as ``groups[i].<field>``."""
    groups = list(groups)
    if not groups:
        raise InvalidSetting("groups", "must hold at least one group")
    if len(groups) > MAX_GROUPS:
        raise InvalidSetting("groups", f"may hold at most {MAX_GROUPS} groups, got {len(groups)}")
    names: set[str] = set()
    for index, group in enumerate(groups):
        where = f"groups[{index}]"
        name = group.name.strip() if isinstance(group.name, str) else ""
        if not name or len(name) > MAX_GROUP_NAME_LENGTH or "\x00" in name:
            raise InvalidSetting(f"{where}.name", f"must be text of 1 to {MAX_GROUP_NAME_LENGTH} characters")
        if name in names:
            raise InvalidSetting(f"{where}.name", f"{name!r} names another group of this rollout")
        names.add(name)
        if not isinstance(group.query, str) or len(group.query) > 4096:
            raise InvalidSetting(f"{where}.query", "must be a device query of at most 4096 characters")
        if group.query:
            try:
                device_query_compile(query=group.query)
            except Exception as error:  # InvalidInput with the RSQL message
                raise InvalidSetting(f"{where}.query", str(error)) from error
        if group.target_count is not None and group.target_percentage is not None:
            raise InvalidSetting(
                f"{where}.target_count", "and a target percentage exclude each other: give one"
            )
        if group.target_count is not None:
            _number(f"{where}.target_count", group.target_count, low=1, high=MAX_SETTING)
        if group.target_percentage is not None:
            percentage = group.target_percentage
            if (
                isinstance(percentage, bool)
                or not isinstance(percentage, int | float)
                or not math.isfinite(percentage)
                or not 0 < percentage <= 100
            ):
                raise InvalidSetting(
                    f"{where}.target_percentage",
                    f"must be a number above 0 and at most 100, got {percentage!r}",
                )
        _number(f"{where}.success_threshold", group.success_threshold, low=1, high=100)
        if group.success_action not in SuccessAction.values:
            raise InvalidSetting(
                f"{where}.success_action",
                f"must be one of {', '.join(SuccessAction.values)}, got {group.success_action!r}",
            )
        if group.error_threshold is not None:
            _number(f"{where}.error_threshold", group.error_threshold, low=1, high=100)
        if group.error_count is not None:
            _number(f"{where}.error_count", group.error_count, low=1, high=MAX_SETTING)
        if group.confirmation_required not in (None, True, False):
            raise InvalidSetting(f"{where}.confirmation_required", "must be true, false or null")
        if not isinstance(group.description, str) or len(group.description) > 512:
            raise InvalidSetting(f"{where}.description", "must be text of at most 512 characters")
    return groups


UNSTARTED = (Rollout.Status.WAITING_FOR_APPROVAL, Rollout.Status.APPROVAL_DENIED, Rollout.Status.DRAFT)


def rollout_set_groups(*, rollout: Rollout, groups: Sequence[GroupSpec]) -> list[RolloutGroup]:
    """Replace the groups of a rollout that has not started (validated; Conflict once started)."""
    groups = groups_validate(groups)
    with transaction.atomic():
        if not Rollout.objects.select_for_update().filter(pk=rollout.pk, status__in=UNSTARTED).exists():
            raise Conflict(f"rollout {rollout.pk} ({rollout.name}) has started: its groups are fixed")
        RolloutGroup.objects.filter(rollout=rollout).delete()
        return RolloutGroup.objects.bulk_create(
            RolloutGroup(
                rollout=rollout,
                position=position,
                name=spec.name.strip(),
                description=spec.description,
                query=spec.query,
                target_count=spec.target_count,
                target_percentage=spec.target_percentage,
                success_threshold=spec.success_threshold,
                success_action=spec.success_action,
                error_threshold=spec.error_threshold,
                error_count=spec.error_count,
                confirmation_required=spec.confirmation_required,
            )
            for position, spec in enumerate(groups)
        )


# --- start -------------------------------------------------------------------------------------


def start_with_groups(*, rollout: Rollout) -> bool:
    """draft → running, freezing the groups and opening the first one. False: it was not a draft.

    The caller holds a transaction. The freeze reads the fleet as it is now; a device registered
    later has a higher id than every boundary, so only a dynamic rollout ever takes it. (An
    existing device that comes to match later is placed by the same rules: groups are rules.)
    """
    now = timezone.now()
    if not Rollout.objects.filter(pk=rollout.pk, status=Rollout.Status.DRAFT).update(
        status=Rollout.Status.RUNNING, started_at=now
    ):
        return False
    rollout.status, rollout.started_at = Rollout.Status.RUNNING, now
    groups = list(rollout.groups.all())
    if not groups:  # created without any (e.g. directly in the database): one group of all
        groups = [RolloutGroup.objects.create(rollout=rollout, position=0, name="All devices")]
    sizes = selectors.rollout_group_sizes(rollout=rollout, groups=groups)
    for group, size in zip(groups, sizes, strict=True):
        group.boundary, group.frozen_total = size.boundary, size.size
        if rollout.dynamic and group is groups[-1]:
            # Dynamic: the last group holds everyone the earlier ones do not (membership's default).
            group.boundary = None
        RolloutGroup.objects.filter(pk=group.pk).update(
            boundary=group.boundary, frozen_total=group.frozen_total
        )
    _start_group(groups[0], now)
    targets_changed()
    rollout_evaluate(rollout=rollout, groups=groups)
    return True


def _start_group(group: RolloutGroup, now: datetime) -> bool:
    if not RolloutGroup.objects.filter(pk=group.pk, status=GroupStatus.SCHEDULED).update(
        status=GroupStatus.RUNNING, started_at=now
    ):
        return False
    group.status, group.started_at = GroupStatus.RUNNING, now
    return True


def rollouts_start_due(*, now: datetime | None = None) -> list[Rollout]:
    """Start every draft whose scheduled start has come (hawkBit's startAt). Safe to call from
    every worker at once: each start is a compare-and-swap, so each rollout starts once."""
    now = now or timezone.now()
    started = []
    for rollout in Rollout.objects.filter(status=Rollout.Status.DRAFT, start_at__lte=now).select_related(
        "software"
    ):
        with transaction.atomic():
            if start_with_groups(rollout=rollout):
                started.append(rollout)
    if started or selectors.scheduled_start_due():
        # Nothing left due (or someone else started them): let the workers re-read the schedule.
        targets_changed()
    return started


# --- advancing ---------------------------------------------------------------------------------

ROLLOUT_CHECK_LOCK = 0x6F05EB18


def lock_rollout_checks(rollout: Rollout) -> None:
    """Serialise the result checks of one rollout until the caller's transaction ends.

    Two devices finishing at once each check inside their own transaction: under PostgreSQL's
    READ COMMITTED neither would see the other's success, and the group would never advance.
    With this lock the second waits for the first to commit and then counts both. SQLite needs
    nothing: our transactions are IMMEDIATE, so writers are serialised already.
    """
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ROLLOUT_CHECK_LOCK, rollout.pk])


def group_error_reason(group: RolloutGroup, stats: selectors.GroupStats) -> str:
    """Why the group's error condition holds ("" if it does not)."""
    failed, total = stats.failed_total, stats.targeted
    if group.error_count is not None and failed >= group.error_count:
        return f"{failed} of {total} devices failed, reaching its error limit of {group.error_count}"
    if group.error_threshold is not None and total and failed * 100 >= group.error_threshold * total:
        return (
            f"{failed} of {total} devices failed ({failed * 100 // total}%), reaching its error "
            f"threshold of {group.error_threshold}%"
        )
    return ""


def group_succeeded(group: RolloutGroup, stats: selectors.GroupStats, *, last: bool) -> bool:
    """The success condition: this share of the group's devices runs the software. An empty
    group has nothing to wait for, except the last: a rollout that reaches no device yet keeps
    running for the devices that may still come."""
    if stats.targeted == 0:
        return not last
    return stats.done * 100 >= group.success_threshold * stats.targeted


def _pause(rollout: Rollout, reason: str) -> bool:
    paused = Rollout.objects.filter(pk=rollout.pk, status=Rollout.Status.RUNNING).update(
        status=Rollout.Status.PAUSED, pause_reason=reason, paused_at=timezone.now()
    )
    if paused:
        rollout.status, rollout.pause_reason = Rollout.Status.PAUSED, reason
        targets_changed()
    return bool(paused)


def rollout_evaluate(
    *, rollout: Rollout, groups: Sequence[RolloutGroup] | None = None, check_errors: bool = False
) -> None:
    """Apply the groups' conditions to where their devices stand now (see the module's doc).

    ``check_errors``: a device just failed or rolled back, so the error conditions are checked
    too. Otherwise (a success, a start, a resume) only success conditions are: a rollout resumed
    after an automatic pause is paused again by the next failure, not by the old ones.
    """
    if (
        Rollout.objects.filter(pk=rollout.pk).values_list("status", flat=True).first()
        != Rollout.Status.RUNNING
    ):
        return
    groups = list(groups) if groups is not None else list(rollout.groups.all())
    if not groups:
        # Made without groups (directly in the database): one implicit group of all devices.
        _finish_when_all_done(rollout)
        return
    if not any(group.status == GroupStatus.RUNNING for group in groups):
        return
    stats = selectors.rollout_group_stats(rollout=rollout, groups=groups)
    now = timezone.now()
    changed = False
    for index, group in enumerate(groups):
        if group.status != GroupStatus.RUNNING:
            continue
        group_stats = stats.get(group.position) or selectors.GroupStats(position=group.position)
        reason = group_error_reason(group, group_stats) if check_errors else ""
        if reason:
            if RolloutGroup.objects.filter(pk=group.pk, status=GroupStatus.RUNNING).update(
                status=GroupStatus.ERROR, status_reason=reason
            ):
                _pause(rollout, f"Paused automatically: group {group.name!r}: {reason}")
            return
        if not group_succeeded(group, group_stats, last=index == len(groups) - 1):
            continue
        if not RolloutGroup.objects.filter(pk=group.pk, status=GroupStatus.RUNNING).update(
            status=GroupStatus.FINISHED, finished_at=now
        ):
            return  # another worker advanced it
        group.status, group.finished_at, changed = GroupStatus.FINISHED, now, True
        following = groups[index + 1] if index + 1 < len(groups) else None
        if following is None:
            continue
        if group.success_action == SuccessAction.PAUSE:
            _pause(
                rollout,
                f"Paused after group {group.name!r} as its success action asks; "
                "resume to start the next group",
            )
            return
        if following.status == GroupStatus.SCHEDULED:
            _start_group(following, now)
    if changed:
        targets_changed()
    if all(group.status == GroupStatus.FINISHED for group in groups):
        if Rollout.objects.filter(pk=rollout.pk, status=Rollout.Status.RUNNING).update(
            status=Rollout.Status.FINISHED, finished_at=now
        ):
            rollout.status, rollout.finished_at = Rollout.Status.FINISHED, now
            targets_changed()


def _finish_when_all_done(rollout: Rollout) -> None:
    if rollout.actions.filter(status__in=Action.ACTIVE_STATUSES).exists():
        return
    if not selectors.rollout_stats(rollout=rollout).all_done:
        return
    if Rollout.objects.filter(pk=rollout.pk, status=Rollout.Status.RUNNING).update(
        status=Rollout.Status.FINISHED, finished_at=timezone.now()
    ):
        rollout.status = Rollout.Status.FINISHED
        targets_changed()


def rollout_resume_groups(*, rollout: Rollout) -> None:
    """After a resume: groups stopped by their error condition run again, and if no group runs
    (the rollout paused after one), the next starts. The caller holds a transaction."""
    now = timezone.now()
    RolloutGroup.objects.filter(rollout=rollout, status=GroupStatus.ERROR).update(
        status=GroupStatus.RUNNING, status_reason=""
    )
    groups = list(rollout.groups.all())
    if groups and not any(group.status == GroupStatus.RUNNING for group in groups):
        following = next((group for group in groups if group.status == GroupStatus.SCHEDULED), None)
        if following is not None:
            _start_group(following, now)
    targets_changed()
    rollout_evaluate(rollout=rollout, groups=groups)


def rollout_trigger_next_group(*, rollout: Rollout) -> RolloutGroup:
    """Start the next scheduled group now, whatever the running group's condition says
    (hawkBit's triggerNextGroup). Only while running; Conflict when no group is left."""
    with transaction.atomic():
        current = Rollout.objects.filter(pk=rollout.pk).values_list("status", flat=True).first()
        if current != Rollout.Status.RUNNING:
            label = Rollout.Status(current).label.lower() if current else "gone"
            raise Conflict(
                f"cannot start the next group of rollout {rollout.pk} ({rollout.name}): it is {label}; "
                "only a running rollout moves on to its next group"
            )
        following = rollout.groups.filter(status=GroupStatus.SCHEDULED).order_by("position").first()
        if following is None or not _start_group(following, timezone.now()):
            raise Conflict(f"rollout {rollout.pk} ({rollout.name}) has no group left to start")
        targets_changed()
    return following
