"""Rollout statistics, results, previews and warnings, computed from Actions in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from devices.models import Device
from goosebit_project.lib.versions import version_older, versions_equal
from rollouts.models import Action, Rollout
from rollouts.options import WEIGHT_IF_ABSENT
from rollouts.selectors.device_queries import queryable
from rollouts.selectors.membership import rollout_own_condition
from rollouts.selectors.targets import (
    FEED_HOLDING_STATUSES,
    TOOK_FEED,
    WEIGHT_RANK,
    conditional_holders,
    took_feed,
)
from software.models import Software


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


def _wins_over(rollout: Rollout) -> Q:
    """Rollouts that take precedence over ``rollout`` (rollout_for_device's PRECEDENCE), over a
    queryset annotated with weight_rank and took_feed."""
    took = took_feed(rollout)
    rank = WEIGHT_IF_ABSENT if rollout.weight is None else rollout.weight
    return (
        Q(weight_rank__gt=rank)
        | Q(weight_rank=rank, took_feed__gt=took)
        | Q(weight_rank=rank, took_feed=took, pk__gt=rollout.pk)
    )


def _wins_over_in_python(holder: Rollout, rollout: Rollout) -> bool:
    """_wins_over for a holder read with its weight_rank and took_feed annotations."""
    rank = WEIGHT_IF_ABSENT if rollout.weight is None else rollout.weight
    holder_rank = (getattr(holder, "weight_rank"), getattr(holder, "took_feed"), holder.pk)  # noqa: B009
    return holder_rank > (rank, took_feed(rollout), rollout.pk)


def rollout_newer_holders(*, rollout: Rollout) -> QuerySet[Rollout]:
    """Rollouts that win over ``rollout`` where they target the same devices: of the same feed or
    of any feed, heavier, or as heavy and took the feed after it (rollout_for_device's PRECEDENCE)."""
    holders = Rollout.objects.filter(status__in=FEED_HOLDING_STATUSES)
    if rollout.feed:
        holders = holders.filter(Q(feed=rollout.feed) | Q(feed=""))
    return (
        holders.exclude(pk=rollout.pk)
        .annotate(weight_rank=WEIGHT_RANK, took_feed=TOOK_FEED)
        .filter(_wins_over(rollout))
    )


def rollout_targeted_condition(rollout: Rollout) -> Q:
    """The devices the rollout targets (over ``queryable``): its own condition, minus those a
    rollout that wins over it claims (rollout_for_device's precedence). No query of its own:
    rollouts that take every device of their feed are excluded in a subquery, and the few
    with a query or a retry come from this worker's list of them."""
    condition = rollout_own_condition(rollout)
    claimed = (
        rollout_newer_holders(rollout=rollout)
        .filter(query="", retry_of__isnull=True)
        .filter(Q(feed=OuterRef("feed")) | Q(feed=""), software__compatibility=OuterRef("hardware_id"))
    )
    condition &= ~Q(Exists(claimed))
    for holder in conditional_holders():
        if holder.pk == rollout.pk or (rollout.feed and holder.feed not in (rollout.feed, "")):
            continue
        if _wins_over_in_python(holder, rollout):
            condition &= ~rollout_own_condition(holder)
    return condition


def rollout_targeted_devices(*, rollout: Rollout) -> QuerySet[Device]:
    """The devices this rollout is (or, for a draft, would be once started) responsible for.

    Devices in rollout mode whose hardware the software fits, of its feed, matching its query,
    for a retry those that failed; minus those a rollout that wins over it claims.
    """
    return queryable(Device.objects.all()).filter(rollout_targeted_condition(rollout))


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
    if rollout.query or rollout.retry_of_id or not rollout.feed:
        where = f"of feed {rollout.feed!r} " if rollout.feed else ""
        return [
            f"Rollout {rollout.name!r} targets 0 devices: no device {where}in rollout mode whose hardware "
            f"{rollout.software.version} lists matches its targets. Devices that match later get it."
        ]
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


def rollouts_active(*, limit: int = 10) -> list[tuple[Rollout, RolloutStats]]:
    """Running and paused rollouts, newest first, with their statistics (rollout_stats).

    Two or three queries per rollout (rollout_stats), whatever the number of devices.
    """
    rollouts = (
        Rollout.objects.filter(status__in=[Rollout.Status.RUNNING, Rollout.Status.PAUSED])
        .select_related("software")
        .order_by("-created", "-id")[:limit]
    )
    return [(rollout, rollout_stats(rollout=rollout)) for rollout in rollouts]


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
    targeted = rollout_targeted_devices(rollout=rollout).values("pk")
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
    statuses = [status for status, found in STATUS_BUCKET.items() if found == name]
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
    older = rolled_back_versions(reported=reported_versions, version=rollout.software.version)
    if bucket == "rolled_back":
        return selected.filter(sw_version__in=older)
    return selected.exclude(sw_version__in=older)
