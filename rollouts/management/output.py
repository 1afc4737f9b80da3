"""What the rollout commands print: one dict for --json, a few lines for people."""

from __future__ import annotations

from typing import Any

from rollouts import selectors
from rollouts.models import Rollout
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
    if with_stats:
        data["stats"] = selectors.rollout_stats(rollout=rollout).as_dict()
    return data


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
    return "\n".join(out)
