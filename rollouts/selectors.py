"""Reads behind the update decision and rollout safety."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count, OuterRef, Q, Subquery

from devices.models import Device
from goosebit_project.lib.versions import Version
from rollouts.models import Action, Rollout
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


@dataclass(frozen=True)
class Target:
    """What a device should run, and why."""

    software: Software
    reason: str
    rollout: Rollout | None = None


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
        .order_by("-created", "-id")
        .first()
    )


def software_latest_for(*, hardware_id: int) -> Software | None:
    """The highest version compatible with the hardware, by SWUpdate/semver ordering."""
    candidates = list(Software.objects.filter(compatibility=hardware_id))
    if not candidates:
        return None
    return max(candidates, key=lambda software: (Version(software.version), software.created))


def target_for_device(*, device: Device) -> Target | None:
    """What the device should run according to its update mode (None: nothing to offer)."""
    mode = device.update_mode
    if mode == Device.UpdateMode.PINNED or device.hardware_id is None:
        return None
    if mode == Device.UpdateMode.ASSIGNED:
        if device.assigned_software_id is None:
            return None
        return Target(software=device.assigned_software, reason=Action.Reason.ASSIGNED)
    if mode == Device.UpdateMode.LATEST:
        software = software_latest_for(hardware_id=device.hardware_id)
        return Target(software=software, reason=Action.Reason.LATEST) if software else None
    rollout = rollout_for_device(device=device)
    if rollout is None or rollout.status not in DELIVERING_STATUSES:
        return None
    return Target(software=rollout.software, reason=Action.Reason.ROLLOUT, rollout=rollout)


# --- the cached short-cut for steady polls --------------------------------------------------
#
# Most polls come from idle devices that already run their target. To answer them without the
# rollout/software queries, the target's (software id, version) is cached per feed + hardware
# (rollout mode), hardware (latest) or software (assigned). The cache only ever short-cuts
# "nothing to do": whenever it suggests an action, device_reconcile recomputes the target from
# the database before creating or canceling anything, so a stale entry can delay an update by at
# most TARGET_CACHE_SECONDS but can never cause a wrong one. Changes to rollouts and software bump
# a generation number (signals and services call target_cache_invalidate), so in practice entries
# are fresh at once.

TARGET_CACHE_SECONDS = 10
_GENERATION_KEY = "rollouts:target-generation"


@dataclass(frozen=True)
class CachedTarget:
    software_id: int
    version: str


def target_cache_invalidate() -> None:
    cache.set(_GENERATION_KEY, time.time_ns(), timeout=None)


def _target_cache_key(device: Device) -> str | None:
    mode = device.update_mode
    if mode == Device.UpdateMode.ROLLOUT:
        feed = hashlib.sha1(device.feed.encode()).hexdigest()
        return f"rollouts:target:r:{feed}:{device.hardware_id}"
    if mode == Device.UpdateMode.LATEST:
        return f"rollouts:target:l:{device.hardware_id}"
    if mode == Device.UpdateMode.ASSIGNED:
        return f"rollouts:target:a:{device.assigned_software_id}"
    return None


def cached_target_for_device(*, device: Device) -> CachedTarget | None:
    """The target's id and version, from the cache when fresh (see above)."""
    if device.update_mode == Device.UpdateMode.PINNED or device.hardware_id is None:
        return None
    key = _target_cache_key(device)
    assert key is not None
    found = cache.get_many([_GENERATION_KEY, key])
    generation = found.get(_GENERATION_KEY, 0)
    entry = found.get(key)
    if entry is not None and entry[0] == generation:
        return entry[1]
    target = target_for_device(device=device)
    value = CachedTarget(target.software.pk, target.software.version) if target else None
    cache.set(key, (generation, value), timeout=TARGET_CACHE_SECONDS)
    return value


def action_active_for_device(*, device: Device) -> Action | None:
    return (
        Action.objects.select_related("software")
        .filter(device=device, status__in=Action.ACTIVE_STATUSES)
        .first()
    )


def action_latest_for_software(*, device: Device, software: Software) -> Action | None:
    return Action.objects.filter(device=device, software=software).order_by("-created", "-id").first()


def active_update_count(*, rollout: Rollout | None = None, exclude_device: Device | None = None) -> int:
    """Devices updating now (pending or running actions), optionally within one rollout."""
    actions = Action.objects.filter(status__in=[Action.Status.PENDING, Action.Status.RUNNING])
    if rollout is not None:
        actions = actions.filter(rollout=rollout)
    if exclude_device is not None:
        actions = actions.exclude(device=exclude_device)
    return actions.count()


@dataclass(frozen=True)
class RolloutResults:
    """Per device (one device counts once however often it retried): its newest action's outcome."""

    succeeded: int
    failed: int

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed


def rollout_results(*, rollout: Rollout) -> RolloutResults:
    newest = Action.objects.filter(rollout=rollout, device=OuterRef("device")).order_by("-created", "-id")
    per_device = (
        Action.objects.filter(rollout=rollout)
        .filter(pk=Subquery(newest.values("pk")[:1]))
        .aggregate(
            succeeded=Count("pk", filter=Q(status=Action.Status.FINISHED)),
            failed=Count("pk", filter=Q(status=Action.Status.ERROR)),
        )
    )
    return RolloutResults(succeeded=per_device["succeeded"], failed=per_device["failed"])
