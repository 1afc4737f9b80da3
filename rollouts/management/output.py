"""What the rollout commands print: one dict for --json, a few lines for people."""

from __future__ import annotations

from typing import Any

from rollouts import selectors
from rollouts.models import Rollout, RolloutGroup
from rollouts.options import describe
from software.models import Software


def _when(value: Any) -> str | None:
    return value.isoformat() if value else None


def _package_filename(software: Software) -> str:
    """Scripts read ``filename``: the package's file, or the release name when it has none."""
    package = software.package
    return package.filename if package is not None else software.name


def rollout_data(rollout: Rollout, *, with_stats: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": rollout.pk,
        "name": rollout.name,
        "feed": rollout.feed,
        "software": {
            "id": rollout.software_id,
            "version": rollout.software.version,
            "filename": _package_filename(rollout.software),
        },
        "status": rollout.status,
        "pause_reason": rollout.pause_reason,
        "pause_on_failure_percent": rollout.pause_on_failure_percent,
        "pause_min_results": rollout.pause_min_results,
        "pause_on_failure_count": rollout.pause_on_failure_count,
        "max_parallel": rollout.max_parallel,
        "confirmation_required": rollout.confirmation_required,
        "action_type": rollout.action_type,
        "forcetime": _when(rollout.forcetime),
        "weight": rollout.weight,
        "maintenance_window": rollout.maintenance_window,
        "created": _when(rollout.created),
        "started_at": _when(rollout.started_at),
        "paused_at": _when(rollout.paused_at),
        "finished_at": _when(rollout.finished_at),
    }
    data.update(
        description=rollout.description,
        query=rollout.query,
        dynamic=rollout.dynamic,
        start_at=_when(rollout.start_at),
        retry_of=rollout.retry_of_id,
        approval_decided_by=rollout.approval_decided_by,
        approval_decided_at=_when(rollout.approval_decided_at),
        approval_remark=rollout.approval_remark,
    )
    if with_stats:
        data["stats"] = selectors.rollout_stats(rollout=rollout).as_dict()
        data["groups"] = [
            {**_group_data(group), "stats": stats.as_dict()} for group, stats in _groups_with_stats(rollout)
        ]
    return data


def _groups_with_stats(rollout: Rollout) -> list[tuple[RolloutGroup, selectors.GroupStats]]:
    groups = selectors.rollout_groups_frozen_or_planned(rollout)
    stats = selectors.rollout_group_stats(rollout=rollout, groups=groups) if groups else {}
    return [
        (group, stats.get(group.position) or selectors.GroupStats(position=group.position))
        for group in groups
    ]


def _group_data(group: RolloutGroup) -> dict[str, Any]:
    return {
        "position": group.position,
        "name": group.name,
        "query": group.query,
        "target_count": group.target_count,
        "target_percentage": group.target_percentage,
        "success_threshold": group.success_threshold,
        "success_action": group.success_action,
        "error_threshold": group.error_threshold,
        "error_count": group.error_count,
        "status": group.status,
        "status_reason": group.status_reason,
        "started_at": _when(group.started_at),
        "finished_at": _when(group.finished_at),
    }


def group_conditions(group: RolloutGroup) -> str:
    """A group's conditions in words: when it moves on, when it pauses the rollout."""
    then = "pause" if group.success_action == RolloutGroup.SuccessAction.PAUSE else "next group"
    errors = [
        *([f"{group.error_threshold}% failed"] if group.error_threshold is not None else []),
        *([f"{group.error_count} failed"] if group.error_count is not None else []),
    ]
    text = f"at {group.success_threshold}% done: {then}"
    return text + (f"; error at {' or '.join(errors)}" if errors else "")


def group_text(group: RolloutGroup, stats: selectors.GroupStats) -> str:
    target = (
        f"{group.target_count} devices"
        if group.target_count is not None
        else f"{group.target_percentage:g}%"
        if group.target_percentage is not None
        else "the rest"
    )
    line = (
        f"  {group.position + 1}. {group.name} ({target}{', ' + group.query if group.query else ''}): "
        f"{group.status}, {stats.progress_percent}% ({stats.done}/{stats.targeted} done, "
        f"{stats.failed_total} failed, {stats.running + stats.pending} in progress); "
        f"{group_conditions(group)}"
    )
    return line + (f" [{group.status_reason}]" if group.status_reason else "")


def _rule(value: int | None, text: str) -> str:
    return text.format(value) if value is not None else "off"


def rollout_text(rollout: Rollout, *, with_stats: bool = True) -> str:
    software = rollout.software
    status = rollout.get_status_display().lower()
    if rollout.pause_reason and rollout.status == Rollout.Status.PAUSED:
        status += f" ({rollout.pause_reason})"
    percent = _rule(rollout.pause_on_failure_percent, "{}%")
    count = _rule(rollout.pause_on_failure_count, "{}")
    parallel = rollout.max_parallel if rollout.max_parallel is not None else "unlimited"
    out = [
        f"Rollout {rollout.pk} {rollout.name!r} on feed {rollout.feed!r}: "
        f"{software.name} ({software.version})",
        f"Status: {status}",
        f"Safety: pause at {percent} failed (after {rollout.pause_min_results} results); "
        f"pause at {count} failed devices; at most {parallel} updating at once",
    ]
    if rollout.query:
        out.append(f"Devices matching: {rollout.query}" + ("" if rollout.dynamic else " (not dynamic)"))
    if rollout.start_at is not None and rollout.started_at is None:
        out.append(f"Starts at: {rollout.start_at.isoformat()}")
    if rollout.approval_decided_by:
        verdict = "denied" if rollout.status == Rollout.Status.APPROVAL_DENIED else "approved"
        remark = f": {rollout.approval_remark}" if rollout.approval_remark else ""
        out.append(f"Approval: {verdict} by {rollout.approval_decided_by}{remark}")
    offered = describe(rollout)
    if offered != "forced":  # the default says nothing new
        out.append(f"Offered as: {offered}")
    if with_stats:
        stats = selectors.rollout_stats(rollout=rollout)
        out.append(
            f"Targeted {stats.targeted} devices ({stats.progress_percent}% on {software.version}): "
            f"succeeded {stats.succeeded}, already on version {stats.already_on_version}, "
            f"failed {stats.failed}, rolled back {stats.rolled_back}, in progress {stats.running}, "
            f"waiting {stats.pending}, canceled {stats.canceled}, not started {stats.not_started}"
        )
        if stats.left:
            out.append(f"Devices that left the feed after updating: {stats.left}")
        groups = _groups_with_stats(rollout)
        if groups:
            out.append("Groups:")
            out += [group_text(group, group_stats) for group, group_stats in groups]
    return "\n".join(out)
