"""The automatic pause and the end of a rollout, checked on feedback and on poll from Actions alone."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from rollouts import selectors
from rollouts.models import Action, Rollout


def rollout_check_safety(*, rollout: Rollout) -> bool:
    """Pause a running rollout whose failures reached its threshold. Returns True if it paused.

    Thresholds count devices, not feedback events: a device that retried counts once, by the
    outcome of its newest action in this rollout.
    """
    rollout.refresh_from_db()
    if rollout.status != Rollout.Status.RUNNING:
        return False
    results = selectors.rollout_results(rollout=rollout)
    reason = ""
    if rollout.pause_on_failure_count is not None and results.failed >= rollout.pause_on_failure_count:
        reason = f"{results.failed} devices failed, reaching the limit of {rollout.pause_on_failure_count}"
    elif (
        rollout.pause_on_failure_percent is not None
        and results.finished >= max(1, rollout.pause_min_results)
        and results.failed * 100 >= rollout.pause_on_failure_percent * results.finished
    ):
        reason = (
            f"{results.failed} of {results.finished} finished devices failed "
            f"({results.failed * 100 // results.finished}%), reaching the limit of "
            f"{rollout.pause_on_failure_percent}%"
        )
    if not reason:
        return False
    paused = Rollout.objects.filter(pk=rollout.pk, status=Rollout.Status.RUNNING).update(
        status=Rollout.Status.PAUSED,
        pause_reason="Paused automatically: " + reason,
        paused_at=timezone.now(),
    )
    targets_changed()
    return bool(paused)


def rollout_check_finished(*, rollout: Rollout) -> bool:
    """Mark a running rollout finished once every device it targets runs its software.

    Called after each success. While any action of the rollout is still under way the answer
    is no without counting (one indexed EXISTS), so the full statistics run only near the end.
    A finished rollout keeps delivering to devices that join its feed later.
    """
    rollout.refresh_from_db()
    if rollout.status != Rollout.Status.RUNNING:
        return False
    if rollout.actions.filter(status__in=Action.ACTIVE_STATUSES).exists():
        return False
    if not selectors.rollout_stats(rollout=rollout).all_done:
        return False
    return bool(
        Rollout.objects.filter(pk=rollout.pk, status=Rollout.Status.RUNNING).update(
            status=Rollout.Status.FINISHED, finished_at=timezone.now()
        )
    )


def targets_changed() -> None:
    """Drop cached poll targets now, and again once the transition is committed.

    The second call closes a race: a worker polling between the first call and the commit would
    cache the old target under the new generation (for up to TARGET_CACHE_SECONDS).
    """
    selectors.target_cache_invalidate()
    transaction.on_commit(selectors.target_cache_invalidate)
