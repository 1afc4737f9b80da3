"""Per-group statistics, sizes and previews of a rollout, in a fixed number of queries.

Group membership is rollouts.selectors.membership's; where each device stands comes from its
newest action in the rollout, as for the whole rollout (rollouts.selectors.stats).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Count, OuterRef, QuerySet, Subquery

from devices.models import Device
from goosebit_project.lib.versions import version_older, versions_equal
from rollouts.models import Action, Rollout, RolloutGroup
from rollouts.selectors.membership import group_position_case
from rollouts.selectors.stats import STATUS_BUCKET, rollout_targeted_devices


@dataclass
class GroupStats:
    """Where the devices of one group stand; every device of the group is counted once."""

    position: int | None  # None: targeted, but in no group (joined a fixed rollout later)
    targeted: int = 0
    not_started: int = 0
    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    canceled: int = 0
    rolled_back: int = 0
    already_on_version: int = 0

    @property
    def done(self) -> int:
        return self.succeeded + self.already_on_version

    @property
    def failed_total(self) -> int:
        """Failed, or rolled back after succeeding: what the error condition counts."""
        return self.failed + self.rolled_back

    @property
    def progress_percent(self) -> int:
        return self.done * 100 // self.targeted if self.targeted else 0

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
            "progress_percent": self.progress_percent,
        }


def _groups(rollout: Rollout, groups: Sequence[RolloutGroup] | None) -> list[RolloutGroup]:
    return list(groups) if groups is not None else list(rollout.groups.all())


def rollout_group_stats(
    *, rollout: Rollout, groups: Sequence[RolloutGroup] | None = None
) -> dict[int | None, GroupStats]:
    """Statistics per group position: ONE query whatever the fleet size (two without ``groups``,
    three if ``rollout.software`` is not loaded). Devices the rollout targets but no group holds
    (joined a non-dynamic rollout after its start) are under position None."""
    groups = _groups(rollout, groups)
    version = rollout.software.version
    newest = Action.objects.filter(rollout=rollout, device=OuterRef("pk")).order_by("-created", "-id")
    rows = (
        rollout_targeted_devices(rollout=rollout)
        .annotate(
            group_position=group_position_case(groups=groups, dynamic=rollout.dynamic),
            newest_status=Subquery(newest.values("status")[:1]),
            newest_type=Subquery(newest.values("action_type")[:1]),
        )
        .values("group_position", "newest_status", "newest_type", "sw_version")
        .annotate(devices=Count("pk"))
        .order_by()
    )
    stats: dict[int | None, GroupStats] = {
        group.position: GroupStats(position=group.position) for group in groups
    }
    for row in rows:
        position = row["group_position"]
        entry = stats.setdefault(position, GroupStats(position=position))
        count = row["devices"]
        entry.targeted += count
        status = row["newest_status"]
        if status is None:
            if versions_equal(row["sw_version"], version):
                entry.already_on_version += count
            else:
                entry.not_started += count
            continue
        bucket = STATUS_BUCKET[status]
        if (
            bucket == "succeeded"
            and row["newest_type"] != Action.ActionType.DOWNLOAD_ONLY
            and version_older(row["sw_version"], version)
        ):
            bucket = "rolled_back"
        setattr(entry, bucket, getattr(entry, bucket) + count)
    return stats


# --- sizes: what the start freezes ------------------------------------------------------------


@dataclass(frozen=True)
class GroupSize:
    """A group's share of the devices as it would be frozen now: how many, and the id boundary."""

    position: int
    candidates: int
    size: int
    boundary: int | None


def group_size_of(*, candidates: int, target_count: int | None, target_percentage: float | None) -> int:
    """A group's size among ``candidates`` remaining devices matching its query.

    A count takes at most that many; a percentage rounds up (a 10 % canary of 5 devices is one
    device, never none); neither takes all of them.
    """
    if target_count is not None:
        return min(target_count, candidates)
    if target_percentage is not None:
        # round() first: 100/3 % of 3 devices is one device, not two by a float's last digit.
        return min(candidates, math.ceil(round(candidates * target_percentage / 100, 9)))
    return candidates


def rollout_group_sizes(*, rollout: Rollout, groups: Sequence[RolloutGroup] | None = None) -> list[GroupSize]:
    """Each group's size and boundary if the rollout started now: two queries per group.

    In order, each group takes its share of the devices the earlier groups left that match its
    query, lowest ids first (the oldest devices, as hawkBit fills groups), so the boundary is the
    id of its last device.
    """
    groups = _groups(rollout, groups)
    targeted = rollout_targeted_devices(rollout=rollout)
    frozen: list[RolloutGroup] = []
    sizes: list[GroupSize] = []
    for group in groups:
        remaining = targeted
        if frozen:
            remaining = remaining.annotate(
                earlier_group=group_position_case(groups=frozen, dynamic=False)
            ).filter(earlier_group__isnull=True)
        probe = RolloutGroup(position=group.position, query=group.query, boundary=None)
        remaining = remaining.annotate(this_group=group_position_case(groups=[probe], dynamic=False)).filter(
            this_group__isnull=False
        )
        candidates = remaining.count()
        size = group_size_of(
            candidates=candidates, target_count=group.target_count, target_percentage=group.target_percentage
        )
        # An empty group's boundary 0 is below every id: it holds nobody.
        boundary = remaining.order_by("pk").values_list("pk", flat=True)[size - 1] if size else 0
        sizes.append(GroupSize(group.position, candidates, size, boundary))
        frozen.append(RolloutGroup(position=group.position, query=group.query, boundary=boundary))
    return sizes


# --- previews ---------------------------------------------------------------------------------


@dataclass
class GroupPreview:
    position: int
    name: str
    devices: int = 0
    already_on_version: int = 0
    # (model, revision) -> devices
    by_hardware: dict[tuple[str, str], int] = field(default_factory=dict)
    sample: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "position": self.position,
            "name": self.name,
            "devices": self.devices,
            "already_on_version": self.already_on_version,
            "to_update": self.devices - self.already_on_version,
            "by_hardware": [
                {"model": model, "revision": revision, "devices": count}
                for (model, revision), count in sorted(self.by_hardware.items())
            ],
            "sample": self.sample,
        }


PREVIEW_SAMPLE = 10


def rollout_groups_frozen_or_planned(rollout: Rollout) -> list[RolloutGroup]:
    """The rollout's groups with their boundaries: frozen once started, as planned now before."""
    groups = list(rollout.groups.all())
    if rollout.started_at is not None or not groups:
        return groups
    for group, size in zip(groups, rollout_group_sizes(rollout=rollout, groups=groups), strict=True):
        group.boundary, group.frozen_total = size.boundary, size.size
    return groups


def rollout_group_preview(*, rollout: Rollout) -> list[GroupPreview]:
    """Every group: how many devices, how many per hardware, how many already run the version,
    and the first few controller ids. One query for the counts and one per group for its sample,
    plus the sizing queries of a rollout not started yet (rollout_group_sizes)."""
    groups = rollout_groups_frozen_or_planned(rollout)
    version = rollout.software.version
    previews = {group.position: GroupPreview(group.position, group.name) for group in groups}
    case = group_position_case(groups=groups, dynamic=rollout.dynamic)
    rows = (
        rollout_targeted_devices(rollout=rollout)
        .annotate(group_position=case)
        .filter(group_position__isnull=False)
        .values("group_position", "hardware__model", "hardware__revision", "sw_version")
        .annotate(devices=Count("pk"))
        .order_by()
    )
    for row in rows:
        preview = previews.get(row["group_position"])
        if preview is None:
            continue
        preview.devices += row["devices"]
        key = (row["hardware__model"] or "", row["hardware__revision"] or "")
        preview.by_hardware[key] = preview.by_hardware.get(key, 0) + row["devices"]
        if versions_equal(row["sw_version"], version):
            preview.already_on_version += row["devices"]
    for group in groups:
        previews[group.position].sample = list(
            devices_in_group(rollout=rollout, groups=groups, position=group.position)
            .order_by("pk")
            .values_list("controller_id", flat=True)[:PREVIEW_SAMPLE]
        )
    return [previews[group.position] for group in groups]


def devices_in_group(*, rollout: Rollout, groups: Sequence[RolloutGroup], position: int) -> QuerySet[Device]:
    """The targeted devices the group at ``position`` holds (hawkBit's deploygroups/{id}/targets)."""
    return (
        rollout_targeted_devices(rollout=rollout)
        .annotate(group_position=group_position_case(groups=groups, dynamic=rollout.dynamic))
        .filter(group_position=position)
    )
