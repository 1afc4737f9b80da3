"""Reads behind the update decision, rollout safety, statistics and previews."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.core.cache import cache
from django.db.models import Case, CharField, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from devices import tenant_config
from devices.models import Device
from goosebit_project.lib.versions import Version, version_older, versions_equal
from rollouts.models import Action, ActionStatus, Rollout
from rollouts.options import WEIGHT_IF_ABSENT
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
class Target:
    """What a device should run, and why."""

    software: Software
    reason: str
    rollout: Rollout | None = None

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


def _took_feed(rollout: Rollout) -> datetime:
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


def target_for_device(*, device: Device, include_held: bool = False) -> Target | None:
    """What the device should run according to its update mode (None: nothing to offer).

    ``include_held`` also returns the software of a paused or stopped rollout that owns the
    device (Target.held), for screens that show why nothing is offered; never for delivery.
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

    def current_generation(self) -> int:
        now = time.monotonic()
        if now - self.checked >= GENERATION_CHECK_SECONDS or self.generation is None:
            generation = cache.get(_GENERATION_KEY, 0)
            if generation != self.generation:
                self.entries = {}
                self.generation = generation
            self.checked = now
        return cast(int, self.generation)  # set above when it was None

    def reset(self, generation: int) -> None:
        self.entries = {}
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


@dataclass(frozen=True)
class RolloutResults:
    """Per device (one device counts once however often it retried): its newest action's outcome.

    A device that succeeded but now reports an older version (rolled back) counts as failed: for
    the safety rules a rollback is the worst kind of failure (the new version did not survive).
    """

    succeeded: int
    failed: int

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed


# The device's reported version, for actions that succeeded only: enough to tell a rollback
# (version_older) while other statuses stay one group each.
_SUCCEEDED_VERSION = Case(
    # A finished download-only update installed nothing: the old version is no rollback.
    When(status=Action.Status.FINISHED, action_type=Action.ActionType.DOWNLOAD_ONLY, then=Value("")),
    When(status=Action.Status.FINISHED, then=F("device__sw_version")),
    default=Value(""),
    output_field=CharField(),
)


def rolled_back_versions(*, reported: set[str], version: str) -> set[str]:
    """The reported versions that are older than ``version``: a rollback from it."""
    return {text for text in reported if version_older(text, version)}


def rollout_results(*, rollout: Rollout) -> RolloutResults:
    newest = Action.objects.filter(rollout=rollout, device=OuterRef("device")).order_by("-created", "-id")
    rows = (
        Action.objects.filter(rollout=rollout, status__in=[Action.Status.FINISHED, Action.Status.ERROR])
        .filter(pk=Subquery(newest.values("pk")[:1]))
        .values("status", reported=_SUCCEEDED_VERSION)
        .annotate(devices=Count("pk"))
        .order_by()
    )
    version = rollout.software.version
    succeeded = failed = 0
    for row in rows:
        if row["status"] == Action.Status.ERROR or version_older(row["reported"], version):
            failed += row["devices"]
        else:
            succeeded += row["devices"]
    return RolloutResults(succeeded=succeeded, failed=failed)


# --- statistics and previews ----------------------------------------------------------------


def rollout_newer_holders(*, rollout: Rollout) -> QuerySet[Rollout]:
    """Rollouts of the same feed that win over ``rollout`` where their hardware fits: heavier,
    or as heavy and took the feed after it (rollout_for_device's PRECEDENCE)."""
    took = _took_feed(rollout)
    rank = WEIGHT_IF_ABSENT if rollout.weight is None else rollout.weight
    return (
        Rollout.objects.filter(feed=rollout.feed, status__in=FEED_HOLDING_STATUSES)
        .exclude(pk=rollout.pk)
        .annotate(weight_rank=WEIGHT_RANK, took_feed=TOOK_FEED)
        .filter(
            Q(weight_rank__gt=rank)
            | Q(weight_rank=rank, took_feed__gt=took)
            | Q(weight_rank=rank, took_feed=took, pk__gt=rollout.pk)
        )
    )


def rollout_targeted_devices(*, rollout: Rollout) -> QuerySet[Device]:
    """The devices this rollout is (or, for a draft, would be once started) responsible for.

    Devices of its feed in rollout mode whose hardware the software fits, minus those a newer
    rollout of the same feed claims for their hardware (rollout_for_device's precedence rule).
    """
    compatible = Software.compatibility.through.objects.filter(software_id=rollout.software_id).values(
        "hardware_id"
    )
    claimed = rollout_newer_holders(rollout=rollout).filter(software__compatibility=OuterRef("hardware_id"))
    return Device.objects.filter(
        feed=rollout.feed, update_mode=Device.UpdateMode.ROLLOUT, hardware_id__in=compatible
    ).filter(~Exists(claimed))


@dataclass(frozen=True)
class RolloutStats:
    """Where each targeted device stands, from its newest action in this rollout.

    ``targeted`` = not_started + pending + running + succeeded + failed + canceled +
    rolled_back + already_on_version: every targeted device is counted exactly once. A device
    being canceled counts as running (it is still working on the update). ``rolled_back``: its
    update here succeeded but it now reports an older version. ``left`` counts devices that have
    actions in this rollout but are no longer targeted (moved to another feed or mode).
    """

    targeted: int
    not_started: int
    pending: int
    running: int
    succeeded: int
    failed: int
    canceled: int
    already_on_version: int
    left: int
    rolled_back: int = 0

    @property
    def done(self) -> int:
        """Targeted devices that run the rollout's software."""
        return self.succeeded + self.already_on_version

    @property
    def progress_percent(self) -> int:
        """Share of targeted devices on the rollout's software, rounded down (100 only when all are)."""
        return self.done * 100 // self.targeted if self.targeted else 0

    @property
    def all_done(self) -> bool:
        return self.targeted > 0 and self.done == self.targeted

    def as_dict(self) -> dict[str, int]:
        return {
            "targeted": self.targeted,
            "not_started": self.not_started,
            "pending": self.pending,
            "running": self.running,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "canceled": self.canceled,
            "rolled_back": self.rolled_back,
            "already_on_version": self.already_on_version,
            "left": self.left,
            "progress_percent": self.progress_percent,
        }


STATUS_BUCKET: dict[str, str] = {
    Action.Status.PENDING: "pending",
    # Offered, not started: the device has yet to confirm it.
    Action.Status.WAIT_FOR_CONFIRMATION: "pending",
    Action.Status.RUNNING: "running",
    Action.Status.CANCELING: "running",
    Action.Status.FINISHED: "succeeded",
    Action.Status.ERROR: "failed",
    Action.Status.CANCELED: "canceled",
}


def rollout_stats(*, rollout: Rollout) -> RolloutStats:
    """Statistics aggregated from the rollout's actions; never stored, so they cannot drift.

    Two aggregate queries whatever the fleet size (three if ``rollout.software`` is not loaded
    yet): one groups each device's newest action in this rollout by status (succeeded ones also
    by the version the device reports now, to tell rollbacks), one groups the targeted devices
    without any action by the version they report.
    """
    version = rollout.software.version
    targeted = rollout_targeted_devices(rollout=rollout)
    newest = Action.objects.filter(rollout=rollout, device=OuterRef("device")).order_by("-created", "-id")
    by_status = (
        Action.objects.filter(rollout=rollout, pk=Subquery(newest.values("pk")[:1]))
        .values("status", reported=_SUCCEEDED_VERSION)
        .annotate(
            targeted=Count("pk", filter=Q(device__in=targeted.values("pk"))),
            total=Count("pk"),
        )
        .order_by()
    )
    counts = dict.fromkeys(("pending", "running", "succeeded", "failed", "canceled", "rolled_back"), 0)
    left = 0
    for row in by_status:
        bucket = STATUS_BUCKET[row["status"]]
        if bucket == "succeeded" and version_older(row["reported"], version):
            bucket = "rolled_back"
        counts[bucket] += row["targeted"]
        left += row["total"] - row["targeted"]

    idle = (
        targeted.filter(~Exists(Action.objects.filter(rollout=rollout, device=OuterRef("pk"))))
        .values("sw_version")
        .annotate(devices=Count("pk"))
        .order_by()
    )
    already = not_started = 0
    for idle_row in idle:
        if versions_equal(idle_row["sw_version"], version):
            already += idle_row["devices"]
        else:
            not_started += idle_row["devices"]
    return RolloutStats(
        targeted=sum(counts.values()) + already + not_started,
        not_started=not_started,
        already_on_version=already,
        left=left,
        **counts,
    )


@dataclass(frozen=True)
class HardwarePreview:
    hardware_id: int
    model: str
    revision: str
    devices: int
    already_on_version: int


@dataclass(frozen=True)
class RolloutPreview:
    """What a rollout of ``software`` on ``feed`` would reach if it were started now."""

    feed: str
    software_id: int
    version: str
    devices: int
    already_on_version: int
    by_hardware: list[HardwarePreview]
    # Devices of the feed in rollout mode that it would not reach: hardware unknown or not listed
    # in the software's compatibility.
    incompatible: int
    # Devices whose feed is this one but that do not follow it now (latest, assigned, pinned).
    not_following: int

    @property
    def to_update(self) -> int:
        return self.devices - self.already_on_version

    def as_dict(self) -> dict:
        return {
            "feed": self.feed,
            "software": self.software_id,
            "version": self.version,
            "devices": self.devices,
            "already_on_version": self.already_on_version,
            "to_update": self.to_update,
            "incompatible": self.incompatible,
            "not_following": self.not_following,
            "by_hardware": [
                {
                    "hardware": item.hardware_id,
                    "model": item.model,
                    "revision": item.revision,
                    "devices": item.devices,
                    "already_on_version": item.already_on_version,
                }
                for item in self.by_hardware
            ],
        }


def rollout_preview(*, feed: str, software: Software) -> RolloutPreview:
    """Devices a new rollout would reach, by hardware: two queries whatever the fleet size.

    A rollout started now is the newest of its feed, so it reaches every device of the feed in
    rollout mode whose hardware the software fits.
    """
    compatible = set(software.compatibility.values_list("pk", flat=True))
    rows = (
        Device.objects.filter(feed=feed)
        .values("update_mode", "hardware_id", "hardware__model", "hardware__revision", "sw_version")
        .annotate(devices=Count("pk"))
        .order_by()
    )
    per_hardware: dict[int, dict] = {}
    incompatible = not_following = 0
    for row in rows:
        if row["update_mode"] != Device.UpdateMode.ROLLOUT:
            not_following += row["devices"]
            continue
        if row["hardware_id"] not in compatible:
            incompatible += row["devices"]
            continue
        entry = per_hardware.setdefault(
            row["hardware_id"],
            {"model": row["hardware__model"], "revision": row["hardware__revision"], "devices": 0, "on": 0},
        )
        entry["devices"] += row["devices"]
        if versions_equal(row["sw_version"], software.version):
            entry["on"] += row["devices"]
    by_hardware = [
        HardwarePreview(
            hardware_id=hardware_id,
            model=entry["model"],
            revision=entry["revision"],
            devices=entry["devices"],
            already_on_version=entry["on"],
        )
        for hardware_id, entry in sorted(
            per_hardware.items(), key=lambda item: (item[1]["model"], item[1]["revision"])
        )
    ]
    return RolloutPreview(
        feed=feed,
        software_id=software.pk,
        version=software.version,
        devices=sum(item.devices for item in by_hardware),
        already_on_version=sum(item.already_on_version for item in by_hardware),
        by_hardware=by_hardware,
        incompatible=incompatible,
        not_following=not_following,
    )


def _devices(count: int) -> str:
    return f"{count} device{'s' if count != 1 else ''}"


def rollout_warnings(*, rollout: Rollout) -> list[str]:
    """What the operator should hear right after creating ``rollout`` (empty: nothing).

    A rollout that reaches no device is allowed (devices may join its feed later) but is most
    often a typo in the feed or the wrong software: say so, and why, wherever it was created.
    One EXISTS query, plus the preview's two when it reaches none.
    """
    if rollout_targeted_devices(rollout=rollout).exists():
        return []
    preview = rollout_preview(feed=rollout.feed, software=rollout.software)
    if preview.devices:
        why = f"newer rollouts of feed {rollout.feed!r} claim its {_devices(preview.devices)}"
    elif not preview.incompatible and not preview.not_following:
        why = f"feed {rollout.feed!r} has no devices"
    else:
        reasons = []
        if preview.incompatible:
            verb = "has" if preview.incompatible == 1 else "have"
            reasons.append(
                f"{_devices(preview.incompatible)} of the feed {verb} hardware that "
                f"{rollout.software.version} does not list (or none reported yet)"
            )
        if preview.not_following:
            verb = "is" if preview.not_following == 1 else "are"
            reasons.append(
                f"{_devices(preview.not_following)} of the feed {verb} in latest, assigned or pinned mode"
            )
        why = "; ".join(reasons)
    return [f"Rollout {rollout.name!r} targets 0 devices: {why}. Devices that join the feed later get it."]
