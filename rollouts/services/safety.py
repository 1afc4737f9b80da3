"""The automatic pause and the end of a rollout, checked on feedback and on poll from Actions alone."""

from __future__ import annotations

from django.utils import timezone

from rollouts import selectors
from rollouts.models import Action, Rollout, RolloutGroup
from rollouts.services.cache import targets_changed
from rollouts.services.groups import lock_rollout_checks, rollout_evaluate

__all__ = ["rollout_check_finished", "rollout_check_safety", "targets_changed"]


def rollout_check_safety(*, rollout: Rollout) -> bool:
    """After a failure or rollback: pause a running rollout whose failures reached its threshold,
    or one of whose running groups reached its error condition. Returns True if it paused.

    Thresholds count devices, not feedback events: a device that retried counts once, by the
    outcome of its newest action in this rollout.
    """
    lock_rollout_checks(rollout)
    rollout.refresh_from_db()
    if rollout.status != Rollout.Status.RUNNING:
        return False
    if _rollout_wide_pause(rollout):
        return True
    rollout_evaluate(rollout=rollout, check_errors=True)
    return Rollout.objects.filter(pk=rollout.pk, status=Rollout.Status.PAUSED).exists()


def _rollout_wide_pause(rollout: Rollout) -> bool:
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
    """After a success: advance the rollout's groups whose success condition holds, and mark the
    rollout finished once its last group has (rollouts.services.groups.rollout_evaluate).

    While a device of a group that needs all of its devices is still under way the answer is no
    without counting (one indexed EXISTS), so the statistics run only near a group's end; a
    group that needs less than all counts on every success. A finished rollout keeps
    delivering to devices that join it later when it is dynamic. Returns True if it finished.
    """
    lock_rollout_checks(rollout)
    running = list(rollout.groups.filter(status=RolloutGroup.Status.RUNNING))
    if running and all(
        group.success_threshold == 100
        and rollout.actions.filter(rollout_group=group, status__in=Action.ACTIVE_STATUSES).exists()
        for group in running
    ):
        return False
    rollout_evaluate(rollout=rollout)
    return Rollout.objects.filter(pk=rollout.pk, status=Rollout.Status.FINISHED).exists()
