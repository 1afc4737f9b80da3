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
from goosebit_project.lib.versions import Version, versions_equal
from rollouts.models import Action, DeviceFilter, Rollout, RolloutGroup
from rollouts.options import WEIGHT_IF_ABSENT, DeploymentOptions
from rollouts.selectors.device_queries import device_query_compile, queryable
from rollouts.selectors.membership import (
    group_for_device,
    groups_for_devices,
    rollout_is_conditional,
    rollout_own_condition,
)
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
    # The device's group in ``rollout``.
    group: RolloutGroup | None = None

    @property
    def held(self) -> bool:
        """The owning rollout is paused or stopped, or the device's group has not started yet:
        this is what the device would get, and nothing is offered meanwhile (only asked for
        with ``include_held``)."""
        if self.rollout is None:
            return False
        if self.rollout.status not in DELIVERING_STATUSES:
            return True
        return self.group is not None and self.group.status == RolloutGroup.Status.SCHEDULED


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


def _candidates_query(*, feed: str, hardware_id: int):
    return (
        Rollout.objects.filter(
            Q(feed=feed) | Q(feed=""),
            status__in=FEED_HOLDING_STATUSES,
            software__compatibility=hardware_id,
        )
        .select_related("software")
        .prefetch_related("groups")
        .annotate(weight_rank=WEIGHT_RANK, took_feed=TOOK_FEED)
        .order_by(*PRECEDENCE)
    )


CANDIDATES_CHUNK = 8


def rollout_candidates(*, feed: str, hardware_id: int) -> list[Rollout]:
    """The rollouts that may own devices of ``feed`` and this hardware, in precedence order, up to
    and including the first one that takes every such device (no query, not a retry): the ones
    after it can never win. Usually one query (the groups are prefetched: two)."""
    found: list[Rollout] = []
    offset = 0
    while True:
        chunk = list(
            _candidates_query(feed=feed, hardware_id=hardware_id)[offset : offset + CANDIDATES_CHUNK]
        )
        for rollout in chunk:
            found.append(rollout)
            if not rollout_is_conditional(rollout):
                return found
        if len(chunk) < CANDIDATES_CHUNK:
            return found
        offset += CANDIDATES_CHUNK


def rollouts_matching(*, device_ids: Sequence[int], rollouts: Sequence[Rollout]) -> dict[int, set[int]]:
    """For each device, the ids of the (conditional) ``rollouts`` whose own condition it meets:
    one query for all of them."""
    if not device_ids or not rollouts:
        return {}
    aliases = {
        f"rollout_{rollout.pk}": Case(
            When(rollout_own_condition(rollout), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
        for rollout in rollouts
    }
    rows = queryable(Device.objects.filter(pk__in=device_ids)).annotate(**aliases).values_list("pk", *aliases)
    return {
        pk: {rollout.pk for rollout, hit in zip(rollouts, matched, strict=True) if hit}
        for pk, *matched in rows
    }


def _owner(candidates: Sequence[Rollout], matched: set[int]) -> Rollout | None:
    return next((r for r in candidates if not rollout_is_conditional(r) or r.pk in matched), None)


def rollout_for_device(*, device: Device) -> Rollout | None:
    """The rollout that owns this device: the first in precedence order that targets it.

    Several rollouts on one feed can target different hardware (one per board), and a rollout
    with a query (or a retry) owns only the devices it selects (one more query to tell).
    """
    if device.hardware_id is None:
        return None
    candidates = rollout_candidates(feed=device.feed, hardware_id=device.hardware_id)
    conditional = [r for r in candidates if rollout_is_conditional(r)]
    matched = rollouts_matching(device_ids=[device.pk], rollouts=conditional).get(device.pk, set())
    return _owner(candidates, matched)


def rollout_groups(rollout: Rollout) -> list[RolloutGroup]:
    """The rollout's groups in order (prefetched by the target lookups: then no query)."""
    return list(rollout.groups.all())


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
    if rollout is None:
        return None
    return _rollout_target(
        rollout,
        group_for_device(device=device, groups=rollout_groups(rollout), dynamic=rollout.dynamic),
        include_held,
    )


def _rollout_target(rollout: Rollout, group: RolloutGroup | None, include_held: bool) -> Target | None:
    groups_known = bool(rollout_groups(rollout))
    if group is None and groups_known:
        # Targeted, but in no group: it came after the start of a rollout that is not dynamic.
        return None
    target = Target(software=rollout.software, reason=Action.Reason.ROLLOUT, rollout=rollout, group=group)
    if target.held and not include_held:
        return None
    return target


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
class GroupGate:
    """A group as the steady poll sees it: its id boundary and whether it is offered yet."""

    boundary: int | None
    delivering: bool


@dataclass(frozen=True)
class CachedTarget:
    """What any device under one cache key may be offered, enough to tell "nothing to do".

    ``versions``: every version a device under the key could be offered (more than one when a
    rollout with a query, which owns only some of these devices, comes first). ``gates``: the
    owning rollout's groups, when a device's group follows from its id alone.
    """

    software_id: int
    version: str
    alternatives: frozenset[str] = frozenset()
    gates: tuple[GroupGate, ...] | None = None
    dynamic: bool = True

    def settles(self, device: Device) -> bool:
        """Is there certainly nothing to do for this idle device? False: ask the database."""
        if device.force_update:
            return False
        if all(versions_equal(version, device.sw_version) for version in (self.version, *self.alternatives)):
            return True
        if self.alternatives or self.gates is None:
            return False
        gate = next(
            (gate for gate in self.gates if gate.boundary is None or device.pk <= gate.boundary),
            self.gates[-1] if self.dynamic and self.gates else None,
        )
        # In no group, or its group has not started: it waits (the full path would say so too).
        return gate is None or not gate.delivering


def _rollout_cached_target(*, feed: str, hardware_id: int) -> CachedTarget | None:
    """The cache entry for devices in rollout mode of one feed and hardware (see above)."""
    candidates = rollout_candidates(feed=feed, hardware_id=hardware_id)
    delivering = [r for r in candidates if r.status in DELIVERING_STATUSES]
    if not delivering:
        return None
    first = candidates[0]
    if not rollout_is_conditional(first):
        if first.status not in DELIVERING_STATUSES:
            return None
        groups = rollout_groups(first)
        gates = None
        if groups and not any(group.query for group in groups):
            gates = tuple(
                GroupGate(group.boundary, group.status != RolloutGroup.Status.SCHEDULED) for group in groups
            )
        return CachedTarget(first.software.pk, first.software.version, gates=gates, dynamic=first.dynamic)
    return CachedTarget(
        delivering[0].software.pk,
        delivering[0].software.version,
        alternatives=frozenset(r.software.version for r in delivering[1:]),
    )


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
        # Holding rollouts with a query or a retry (None: not read yet), read once per generation.
        self._conditional: list[Rollout] | None = None
        # When the next scheduled rollout start is due (None: none), read once per generation.
        self._next_start: datetime | None = None
        self._next_start_read = False

    def current_generation(self) -> int:
        now = time.monotonic()
        if now - self.checked >= GENERATION_CHECK_SECONDS or self.generation is None:
            generation = cache.get(_GENERATION_KEY, 0)
            if generation != self.generation:
                self.entries = {}
                self._auto_assignments = None
                self._conditional = None
                self._next_start_read = False
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

    def next_start(self) -> datetime | None:
        self.current_generation()
        if not self._next_start_read:
            self._next_start = (
                Rollout.objects.filter(status=Rollout.Status.DRAFT, start_at__isnull=False)
                .order_by("start_at")
                .values_list("start_at", flat=True)
                .first()
            )
            self._next_start_read = True
        return self._next_start

    def conditional_holders(self) -> list[Rollout]:
        self.current_generation()
        if self._conditional is None:
            self._conditional = list(
                Rollout.objects.filter(status__in=FEED_HOLDING_STATUSES)
                .filter(~Q(query="") | Q(retry_of__isnull=False))
                .annotate(weight_rank=WEIGHT_RANK, took_feed=TOOK_FEED)
            )
        return self._conditional

    def reset(self, generation: int) -> None:
        self.entries = {}
        self._auto_assignments = None
        self._conditional = None
        self._next_start_read = False
        self.generation = generation
        self.checked = time.monotonic()


_worker_targets = _WorkerTargets()


def conditional_holders() -> list[Rollout]:
    """The feed-holding rollouts that own only some devices (a query or a retry), as this worker
    last read them: no query in steady state (re-read on every target generation)."""
    return _worker_targets.conditional_holders()


def scheduled_start_due() -> bool:
    """Has a draft's scheduled start come (rollouts.services.groups.rollouts_start_due starts
    it)? Read once per target generation: a steady poll pays one comparison."""
    due = _worker_targets.next_start()
    return due is not None and due <= timezone.now()


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
    value: CachedTarget | None
    if device.update_mode == Device.UpdateMode.ROLLOUT:
        value = _rollout_cached_target(feed=device.feed, hardware_id=cast(int, device.hardware_id))
    else:
        target = target_for_device(device=device)
        value = CachedTarget(target.software.pk, target.software.version) if target else None
    _worker_targets.entries[key] = (now + TARGET_CACHE_SECONDS, value)
    return value


def _rollout_owners(
    devices: Sequence[Device], keys: set[tuple[str, int]]
) -> dict[int, tuple[Rollout, RolloutGroup | None]]:
    """Each rollout-mode device's owning rollout and its group there (rollout_for_device and
    group_for_device for a page): one query for the rollouts (plus their groups), one for
    which devices the rollouts with a query select (only if any), one per owning rollout whose
    groups have queries."""
    if not keys:
        return {}
    rollouts = (
        Rollout.objects.filter(
            Q(feed__in={feed for feed, _ in keys}) | Q(feed=""),
            status__in=FEED_HOLDING_STATUSES,
            software__compatibility__in={board for _, board in keys},
        )
        .annotate(board=F("software__compatibility"), weight_rank=WEIGHT_RANK, took_feed=TOOK_FEED)
        .select_related("software")
        .prefetch_related("groups")
        .order_by(*PRECEDENCE)
    )
    candidates: dict[tuple[str, int], list[Rollout]] = defaultdict(list)
    complete: set[tuple[str, int]] = set()
    for rollout in cast(list[Rollout], rollouts):
        for key in keys:
            feed, board = key
            if key in complete or getattr(rollout, "board") != board or rollout.feed not in (feed, ""):  # noqa: B009
                continue
            candidates[key].append(rollout)
            if not rollout_is_conditional(rollout):
                complete.add(key)
    conditional = list(
        {r.pk: r for found in candidates.values() for r in found if rollout_is_conditional(r)}.values()
    )
    matched = rollouts_matching(device_ids=[d.pk for d in devices], rollouts=conditional)
    owned: dict[int, list[int]] = defaultdict(list)
    owner_of: dict[int, Rollout] = {}
    for device in devices:
        owner = _owner(
            candidates.get((device.feed, cast(int, device.hardware_id)), []), matched.get(device.pk, set())
        )
        if owner is not None:
            owner_of[device.pk] = owner
            owned[owner.pk].append(device.pk)
    found: dict[int, tuple[Rollout, RolloutGroup | None]] = {}
    for pks in owned.values():
        rollout = owner_of[pks[0]]
        groups = groups_for_devices(device_ids=pks, groups=rollout_groups(rollout), dynamic=rollout.dynamic)
        for pk in pks:
            found[pk] = (rollout, groups[pk])
    return found


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
        if d.update_mode == Device.UpdateMode.ROLLOUT and d.hardware_id
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

    owners = _rollout_owners(
        [d for d in devices if d.update_mode == Device.UpdateMode.ROLLOUT and d.hardware_id], rollout_keys
    )

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
        elif device.pk in owners:
            rollout, group = owners[device.pk]
            target = _rollout_target(rollout, group, include_held)
        targets[device.pk] = target
    return targets
