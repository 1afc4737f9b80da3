"""What each device should run: the precedence of assignment, latest and feed rollouts, cached per worker."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.core.cache import cache
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from devices import tenant_config
from devices.models import Device
from goosebit_project.lib.errors import InvalidInput
from goosebit_project.lib.versions import Version
from rollouts.models import Action, DeviceFilter, Rollout
from rollouts.options import WEIGHT_IF_ABSENT, DeploymentOptions
from rollouts.selectors.device_queries import device_query_compile, queryable
from software.models import Software

# A rollout in any of these states owns its feed: a paused or stopped newer rollout keeps devices
# from falling back to an older rollout's software (gooseBit's silent downgrade).
FEED_HOLDING_STATUSES = (
    Rollout.Status.RUNNING,
    Rollout.Status.PAUSED,
    Rollout.Status.STOPPED,
    Rollout.Status.FINISHED,
)
# ... but only these deliver software to devices.
DELIVERING_STATUSES = (Rollout.Status.RUNNING, Rollout.Status.FINISHED)


def confirmation_flow_enabled() -> bool:
    """Is hawkBit's user-consent flow on for the tenant (``user.confirmation.flow.enabled``)?

    The single place that reads the setting: every rule asks here. It is a runtime tenant setting
    (devices.tenant_config) whose default is GOOSEBIT_CONFIRMATION_FLOW; no query while cached.
    """
    return tenant_config.cache.get().confirmation_flow_enabled


@dataclass(frozen=True)
class AutoAssignment:
    """An active auto-assignment of a saved filter (rollouts.DeviceFilter), compiled once."""

    filter_id: int
    filter_name: str
    condition: Q
    software: Software
    options: DeploymentOptions
    confirmation_required: bool


@dataclass(frozen=True)
class Target:
    """What a device should run, and why."""

    software: Software
    reason: str
    rollout: Rollout | None = None
    auto_assignment: AutoAssignment | None = None

    @property
    def held(self) -> bool:
        """The owning rollout is paused or stopped: this is what the device would get, and
        nothing is offered meanwhile (only asked for with ``include_held``)."""
        return self.rollout is not None and self.rollout.status not in DELIVERING_STATUSES


# "Newest" means the rollout that most recently took its feed: a draft created last week and
# started today beats a rollout created and started yesterday. Rollouts put straight into a
# holding state without a start time (fixtures, imports) count from their creation.
TOOK_FEED = Coalesce("started_at", "created")
# Weight (hawkBit's priority) comes first: the heaviest rollout of a feed wins where several fit a
# device; one without a weight counts as the heaviest (hawkBit's actionWeightIfAbsent), so
# without weights the newest wins as before.
WEIGHT_RANK = Coalesce("weight", Value(WEIGHT_IF_ABSENT))
PRECEDENCE = ("-weight_rank", "-took_feed", "-id")


def took_feed(rollout: Rollout) -> datetime:
    """When the rollout took (or, for a draft, would take now) its feed."""
    if rollout.status == Rollout.Status.DRAFT:
        return timezone.now()
    return rollout.started_at or rollout.created


def rollout_for_device(*, device: Device) -> Rollout | None:
    """The rollout that owns this device: the newest one of its feed that fits its hardware.

    Several rollouts on one feed can target different hardware (one per board).
    """
    if device.hardware_id is None or not device.feed:
        return None
    return (
        Rollout.objects.filter(
            feed=device.feed,
            status__in=FEED_HOLDING_STATUSES,
            software__compatibility=device.hardware_id,
        )
        .select_related("software")
        .annotate(weight_rank=WEIGHT_RANK, took_feed=TOOK_FEED)
        .order_by(*PRECEDENCE)
        .first()
    )


def software_latest_for(*, hardware_id: int) -> Software | None:
    """The highest version compatible with the hardware, by SWUpdate/semver ordering."""
    candidates = list(Software.objects.filter(compatibility=hardware_id, deleted=False))
    if not candidates:
        return None
    return max(candidates, key=lambda software: (Version(software.version), software.created))


# --- auto-assignment by saved filters ---------------------------------------------------------
#
# Evaluated on the poll, never fanned out: a device in rollout or latest mode whose known hardware
# fits the release and which matches an active auto-assigning filter gets that release. Several
# match: the heaviest weight (none counts as the heaviest, as for rollouts), then the newest filter.


def auto_assignments_active() -> list[AutoAssignment]:
    """Every active auto-assignment, in precedence order (one query). A stored query that no
    longer compiles (the fields changed) is skipped rather than failing every poll."""
    found = []
    filters = (
        DeviceFilter.objects.filter(
            auto_assign_status=DeviceFilter.AutoAssignStatus.ACTIVE,
            auto_assign_software__deleted=False,
        )
        .select_related("auto_assign_software")
        .order_by("-created", "-id")
    )
    for device_filter in filters:
        try:
            condition = device_query_compile(query=device_filter.query)
        except InvalidInput:
            continue
        found.append(
            AutoAssignment(
                filter_id=device_filter.pk,
                filter_name=device_filter.name,
                condition=condition,
                software=cast(Software, device_filter.auto_assign_software),
                options=DeploymentOptions.from_json(device_filter.auto_assign_options),
                confirmation_required=device_filter.auto_assign_confirmation_required,
            )
        )
    # Stable: within one weight, the newest filter stays first.
    found.sort(key=lambda a: -(a.options.weight if a.options.weight is not None else WEIGHT_IF_ABSENT))
    return found


def _auto_assign_alias(assignment: AutoAssignment) -> str:
    return f"auto_assign_{assignment.filter_id}"


def _auto_assign_matches(assignment: AutoAssignment) -> Case:
    """True for a device the filter selects and whose hardware the release fits (a release
    that lists no hardware fits every device, as for an operator's assignment)."""
    compatibility = Software.compatibility.through.objects.filter(software_id=assignment.software.pk)
    fits = Exists(compatibility.filter(hardware_id=OuterRef("hardware_id"))) | ~Exists(compatibility)
    return Case(
        When(assignment.condition & fits, then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )


def _auto_assign_eligible(device: Device) -> bool:
    return device.hardware_id is not None and device.update_mode in (
        Device.UpdateMode.ROLLOUT,
        Device.UpdateMode.LATEST,
    )


def auto_assignments_matching(
    *, device_ids: Sequence[int], assignments: Sequence[AutoAssignment]
) -> dict[int, AutoAssignment]:
    """The winning auto-assignment of each device that has one: ONE query for all of them."""
    if not device_ids or not assignments:
        return {}
    aliases = {_auto_assign_alias(a): _auto_assign_matches(a) for a in assignments}
    rows = queryable(Device.objects.filter(pk__in=device_ids)).annotate(**aliases).values_list("pk", *aliases)
    winners: dict[int, AutoAssignment] = {}
    for pk, *matched in rows:
        winner = next((a for a, hit in zip(assignments, matched, strict=True) if hit), None)
        if winner is not None:
            winners[pk] = winner
    return winners


def auto_assignment_for_device(
    *, device: Device, assignments: Sequence[AutoAssignment] | None = None
) -> AutoAssignment | None:
    """The auto-assignment the device gets (None: none applies). Without ``assignments`` they are
    read fresh, unless this worker knows there are none (see _WorkerTargets: at worst a new one
    is seen a second late)."""
    if not _auto_assign_eligible(device):
        return None
    if assignments is None:
        if not _worker_targets.auto_assignments():
            return None
        assignments = auto_assignments_active()
    return auto_assignments_matching(device_ids=[device.pk], assignments=assignments).get(device.pk)


def _auto_assigned_target(assignment: AutoAssignment) -> Target:
    return Target(
        software=assignment.software, reason=Action.Reason.AUTO_ASSIGNED, auto_assignment=assignment
    )


def target_for_device(*, device: Device, include_held: bool = False) -> Target | None:
    """What the device should run according to its update mode (None: nothing to offer).

    Precedence: pinned (nothing) > explicit assignment > a saved filter's auto-assignment >
    latest / the feed's rollout. ``include_held`` also returns the software of a paused or
    stopped rollout that owns the device (Target.held), for screens that show why nothing is
    offered; never for delivery.
    """
    mode = device.update_mode
    if mode == Device.UpdateMode.PINNED:
        return None
    if mode == Device.UpdateMode.ASSIGNED:
        # An explicit assignment needs no known hardware (hawkBit has no such check).
        if device.assigned_software_id is None:
            return None
        return Target(software=cast(Software, device.assigned_software), reason=Action.Reason.ASSIGNED)
    if device.hardware_id is None:
        return None
    auto = auto_assignment_for_device(device=device)
    if auto is not None:
        return _auto_assigned_target(auto)
    if mode == Device.UpdateMode.LATEST:
        software = software_latest_for(hardware_id=device.hardware_id)
        return Target(software=software, reason=Action.Reason.LATEST) if software else None
    rollout = rollout_for_device(device=device)
    if rollout is None or (rollout.status not in DELIVERING_STATUSES and not include_held):
        return None
    return Target(software=rollout.software, reason=Action.Reason.ROLLOUT, rollout=rollout)


# --- the cached short-cut for steady polls --------------------------------------------------
#
# Most polls come from idle devices that already run their target. To answer them without the
# rollout/software queries, each worker keeps the target's (software id, version) per feed +
# hardware (rollout mode), hardware (latest) or software (assigned).
#
# Safe by construction: the cache only ever short-cuts "nothing to do". Whenever it suggests an
# action, device_reconcile recomputes the target from the database before creating or canceling
# anything, so a stale entry can delay an update but never cause a wrong one.
#
# Fresh in practice: changes to rollouts and software (signals, and services after queryset
# updates) bump a generation number in the shared cache (GOOSEBIT_CACHE_URL: file cache by
# default, Redis across machines). Each worker reads it at most every GENERATION_CHECK_SECONDS
# and drops its entries when it moved, so other workers see a change within a second; entries
# also expire after TARGET_CACHE_SECONDS. A steady poll thus costs no cache I/O most of the time.

TARGET_CACHE_SECONDS = 10.0
GENERATION_CHECK_SECONDS = 1.0
_GENERATION_KEY = "rollouts:target-generation"


@dataclass(frozen=True)
class CachedTarget:
    software_id: int
    version: str


class _WorkerTargets:
    """This worker's targets, valid for one generation (see above). Thread-safe enough: at
    worst two threads compute the same entry."""

    def __init__(self) -> None:
        self.generation: int | None = None
        self.checked = float("-inf")
        self.entries: dict[tuple, tuple[float, CachedTarget | None]] = {}
        # The active auto-assignments, read once per generation (None: not read yet).
        self._auto_assignments: list[AutoAssignment] | None = None
        self._auto_assignments_expire = float("-inf")

    def current_generation(self) -> int:
        now = time.monotonic()
        if now - self.checked >= GENERATION_CHECK_SECONDS or self.generation is None:
            generation = cache.get(_GENERATION_KEY, 0)
            if generation != self.generation:
                self.entries = {}
                self._auto_assignments = None
                self.generation = generation
            self.checked = now
        return cast(int, self.generation)  # set above when it was None

    def auto_assignments(self) -> list[AutoAssignment]:
        self.current_generation()
        now = time.monotonic()
        if self._auto_assignments is None or self._auto_assignments_expire <= now:
            self._auto_assignments = auto_assignments_active()
            self._auto_assignments_expire = now + TARGET_CACHE_SECONDS
        return self._auto_assignments

    def reset(self, generation: int) -> None:
        self.entries = {}
        self._auto_assignments = None
        self.generation = generation
        self.checked = time.monotonic()


_worker_targets = _WorkerTargets()


def target_cache_invalidate() -> None:
    generation = time.time_ns()
    cache.set(_GENERATION_KEY, generation, timeout=None)
    _worker_targets.reset(generation)


def _target_cache_key(device: Device) -> tuple:
    mode = device.update_mode
    if mode == Device.UpdateMode.ROLLOUT:
        return ("rollout", device.feed, device.hardware_id)
    if mode == Device.UpdateMode.LATEST:
        return ("latest", device.hardware_id)
    return ("assigned", device.assigned_software_id)


def cached_target_for_device(*, device: Device) -> CachedTarget | None:
    """The target's id and version, from this worker's cache when fresh (see above)."""
    mode = device.update_mode
    unknown_hardware = device.hardware_id is None and mode != Device.UpdateMode.ASSIGNED
    if mode == Device.UpdateMode.PINNED or unknown_hardware:
        return None
    if _auto_assign_eligible(device):
        # Which filters a device matches depends on the device itself, not on a shared key: one
        # query per poll while any auto-assignment is active, none otherwise.
        assignments = _worker_targets.auto_assignments()
        auto = auto_assignment_for_device(device=device, assignments=assignments) if assignments else None
        if auto is not None:
            return CachedTarget(auto.software.pk, auto.software.version)
    _worker_targets.current_generation()
    key = _target_cache_key(device)
    now = time.monotonic()
    entry = _worker_targets.entries.get(key)
    if entry is not None and entry[0] > now:
        return entry[1]
    target = target_for_device(device=device)
    value = CachedTarget(target.software.pk, target.software.version) if target else None
    _worker_targets.entries[key] = (now + TARGET_CACHE_SECONDS, value)
    return value


def targets_for_devices(*, devices: Sequence[Device], include_held: bool = False) -> dict[int, Target | None]:
    """rollouts.selectors.target_for_device for many devices in at most four queries.

    The device list shows every row's target; asking target_for_device per row would cost one or
    two queries per device. This applies the same rules (and rollout_for_device's order of who
    took the feed last) (tests/devices/test_selectors.py checks
    that both agree) to a whole page: one query for the software of the boards in "latest" mode,
    one for the rollouts that own the (feed, board) pairs in "rollout" mode, and two for the
    active auto-assignments (this worker's, read once per generation) and which devices they
    match (only while some are active). ``devices`` must
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
                status__in=FEED_HOLDING_STATUSES,
                software__compatibility__in={board for _, board in rollout_keys},
            )
            .annotate(
                board=F("software__compatibility"),
                weight_rank=WEIGHT_RANK,
                took_feed=TOOK_FEED,
            )
            .select_related("software")
            .order_by(*PRECEDENCE)
        )
        for holding in rollouts:
            owners.setdefault((holding.feed, holding.board), holding)

    eligible = [d.pk for d in devices if _auto_assign_eligible(d)]
    # Display only (never delivery): this worker's list of active auto-assignments will do.
    assignments = _worker_targets.auto_assignments() if eligible else []
    auto_assigned = auto_assignments_matching(device_ids=eligible, assignments=assignments)

    targets: dict[int, Target | None] = {}
    for device in devices:
        target = None
        mode = device.update_mode
        if mode == Device.UpdateMode.PINNED:
            pass
        elif device.pk in auto_assigned and mode != Device.UpdateMode.ASSIGNED:
            target = _auto_assigned_target(auto_assigned[device.pk])
        elif mode == Device.UpdateMode.ASSIGNED:
            # Same rule as rollouts.selectors.target_for_device: no known hardware needed.
            if device.assigned_software_id is not None:
                target = Target(
                    software=cast(Software, device.assigned_software), reason=Action.Reason.ASSIGNED
                )
        elif device.hardware_id is None:
            pass
        elif mode == Device.UpdateMode.LATEST:
            software = latest.get(device.hardware_id)
            if software is not None:
                target = Target(software=software, reason=Action.Reason.LATEST)
        else:
            rollout = owners.get((device.feed, device.hardware_id))
            delivering = rollout is not None and rollout.status in DELIVERING_STATUSES
            if rollout is not None and (delivering or include_held):
                target = Target(software=rollout.software, reason=Action.Reason.ROLLOUT, rollout=rollout)
        targets[device.pk] = target
    return targets
