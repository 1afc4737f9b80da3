"""Rollouts: create, change, start, pause, resume, stop, delete, and the automatic safety pause."""

from __future__ import annotations

import enum

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from goosebit_project.lib.errors import Conflict, InvalidInput
from rollouts.models import Action, Rollout
from rollouts.options import DeploymentOptions
from rollouts.services.actions import cancel_with_note
from rollouts.services.safety import rollout_check_finished, targets_changed
from software.models import Software

# --- rollout lifecycle -----------------------------------------------------------------------
#
# draft ──start──▶ running ──pause──▶ paused ──resume──▶ running
#                    │  ╲                │
#                    │   ╲──(all done)──▶ finished
#                    ▼                   ▼
#                  stopped ◀──stop── (running, paused, finished)
#
# Every transition is a compare-and-swap on the old status, so two operators (or an operator
# and the automatic pause) cannot both win; the loser gets a Conflict naming the current state.


class _Unset(enum.Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET
"""Marks a safety setting the caller did not give: the GOOSEBIT_ROLLOUT_* default applies."""

MAX_NAME_LENGTH = 255
MAX_SETTING = 2**31 - 1


class InvalidSetting(InvalidInput):
    """A bad rollout safety setting: ``field`` names it, ``problem`` says what is wrong, so each
    interface can name it its own way (the API by field name, the admin by the form's label)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


def _validate_optional_number(field: str, value: int | None, *, maximum: int | None = None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSetting(field, f"must be a whole number, got {value!r}")
    if value < 1:
        raise InvalidSetting(field, f"must be at least 1, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidSetting(field, f"must be at most {maximum}, got {value}")


def rollout_validate_safety(
    *,
    pause_on_failure_percent: int | None,
    pause_min_results: int,
    pause_on_failure_count: int | None,
    max_parallel: int | None,
) -> None:
    """Raise InvalidSetting naming the first bad safety setting (None disables a rule)."""
    _validate_optional_number("pause_on_failure_percent", pause_on_failure_percent, maximum=100)
    if pause_min_results is None:
        raise InvalidSetting("pause_min_results", "must be a whole number of at least 1")
    # The columns are PositiveIntegerFields: beyond this the database would refuse the row.
    _validate_optional_number("pause_min_results", pause_min_results, maximum=MAX_SETTING)
    _validate_optional_number("pause_on_failure_count", pause_on_failure_count, maximum=MAX_SETTING)
    _validate_optional_number("max_parallel", max_parallel, maximum=MAX_SETTING)


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("a rollout needs a name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"a rollout name is at most {MAX_NAME_LENGTH} characters")
    return name


def _clean_feed(feed: str) -> str:
    feed = (feed or "").strip()
    if not feed:
        raise InvalidInput("a rollout needs a feed: the devices following that feed receive its software")
    if len(feed) > 255:
        raise InvalidInput("a feed name is at most 255 characters")
    return feed


def _default(value, setting: str):
    return getattr(settings, setting) if value is UNSET else value


@transaction.atomic
def rollout_create(
    *,
    name: str,
    feed: str,
    software: Software,
    start: bool = False,
    pause_on_failure_percent: int | None | _Unset = UNSET,
    pause_min_results: int | _Unset = UNSET,
    pause_on_failure_count: int | None | _Unset = UNSET,
    max_parallel: int | None | _Unset = UNSET,
    created_by: User | None = None,
    confirmation_required: bool = True,
    options: DeploymentOptions | None = None,
) -> Rollout:
    """Create a rollout of ``software`` to the devices following ``feed``, as a draft or started.

    Safety settings not given take the GOOSEBIT_ROLLOUT_* defaults; None disables a rule.
    ``options`` (rollouts.options) say how its updates are offered; each action the rollout
    creates copies them, and like feed and software they are fixed once created. A feed
    without any compatible device is allowed (devices may join later): rollout_preview tells the
    operator beforehand how many devices it would reach, selectors.rollout_warnings afterwards.
    """
    name = _clean_name(name)
    feed = _clean_feed(feed)
    if software is None or software.pk is None or not Software.objects.filter(pk=software.pk).exists():
        raise InvalidInput("the rollout's software does not exist")
    if software.deleted:
        raise InvalidInput(f"software {software} is deleted: it cannot be rolled out")
    safety = {
        "pause_on_failure_percent": _default(
            pause_on_failure_percent, "GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_PERCENT"
        ),
        "pause_min_results": _default(pause_min_results, "GOOSEBIT_ROLLOUT_PAUSE_MIN_RESULTS"),
        "pause_on_failure_count": _default(pause_on_failure_count, "GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_COUNT"),
        "max_parallel": _default(max_parallel, "GOOSEBIT_ROLLOUT_MAX_PARALLEL"),
    }
    rollout_validate_safety(**safety)
    rollout = Rollout.objects.create(
        name=name,
        feed=feed,
        software=software,
        created_by=created_by,
        status=Rollout.Status.DRAFT,
        confirmation_required=bool(confirmation_required),
        **safety,
        **(options or DeploymentOptions()).model_fields(),
    )
    if start:
        rollout_start(rollout=rollout)
    return rollout


def rollout_update(
    *,
    rollout: Rollout,
    name: str | _Unset = UNSET,
    pause_on_failure_percent: int | None | _Unset = UNSET,
    pause_min_results: int | _Unset = UNSET,
    pause_on_failure_count: int | None | _Unset = UNSET,
    max_parallel: int | None | _Unset = UNSET,
) -> Rollout:
    """Rename a rollout or change its safety settings, in any state.

    Feed and software are fixed once created: to ship something else, create a new rollout (it
    takes the feed over). Raising a threshold is how an operator lets an automatically paused
    rollout carry on past failures it accepts.
    """
    changes: dict = {}
    if name is not UNSET:
        changes["name"] = _clean_name(name)
    for field_name, value in (
        ("pause_on_failure_percent", pause_on_failure_percent),
        ("pause_min_results", pause_min_results),
        ("pause_on_failure_count", pause_on_failure_count),
        ("max_parallel", max_parallel),
    ):
        if value is not UNSET:
            changes[field_name] = value
    safety = {
        field_name: changes.get(field_name, getattr(rollout, field_name))
        for field_name in (
            "pause_on_failure_percent",
            "pause_min_results",
            "pause_on_failure_count",
            "max_parallel",
        )
    }
    rollout_validate_safety(**safety)
    if not changes:
        return rollout
    for field_name, value in changes.items():
        setattr(rollout, field_name, value)
    rollout.save(update_fields=[*changes, "updated"])
    return rollout


def _refused(rollout: Rollout, verb: str, rule: str) -> Conflict:
    """The error for a transition that lost its compare-and-swap, naming the current state."""
    current = Rollout.objects.filter(pk=rollout.pk).values_list("status", flat=True).first()
    if current is None:
        return Conflict(f"rollout {rollout.pk} no longer exists")
    rollout.status = current
    return Conflict(
        f"cannot {verb} rollout {rollout.pk} ({rollout.name}): it is "
        f"{Rollout.Status(current).label.lower()}; {rule}"
    )


def rollout_start(*, rollout: Rollout) -> Rollout:
    """draft → running: from now on, devices of the feed get its software when they poll."""
    now = timezone.now()
    with transaction.atomic():
        if not Rollout.objects.filter(pk=rollout.pk, status=Rollout.Status.DRAFT).update(
            status=Rollout.Status.RUNNING, started_at=now
        ):
            raise _refused(rollout, "start", "only a draft can be started")
        rollout.status, rollout.started_at = Rollout.Status.RUNNING, now
        targets_changed()
        # Every targeted device may already run the software: then there is nothing to do.
        rollout_check_finished(rollout=rollout)
    return rollout


def rollout_pause(*, rollout: Rollout, by: User | None = None) -> Rollout:
    """running → paused: no new device starts; updates under way finish. The feed stays held."""
    now = timezone.now()
    reason = f"Paused by {by.get_username()}" if by is not None else "Paused by an operator"
    if not Rollout.objects.filter(pk=rollout.pk, status=Rollout.Status.RUNNING).update(
        status=Rollout.Status.PAUSED, pause_reason=reason, paused_at=now
    ):
        raise _refused(rollout, "pause", "only a running rollout can be paused")
    rollout.status, rollout.pause_reason, rollout.paused_at = Rollout.Status.PAUSED, reason, now
    targets_changed()
    return rollout


def rollout_resume(*, rollout: Rollout) -> Rollout:
    """paused → running; clears the pause reason (manual or automatic).

    The safety thresholds still count every failure so far: after an automatic pause, retry
    the failed devices or raise the thresholds (rollout_update), or the next failure pauses the
    rollout again.
    """
    with transaction.atomic():
        if not Rollout.objects.filter(pk=rollout.pk, status=Rollout.Status.PAUSED).update(
            status=Rollout.Status.RUNNING, pause_reason="", paused_at=None
        ):
            raise _refused(rollout, "resume", "only a paused rollout can be resumed")
        rollout.status, rollout.pause_reason, rollout.paused_at = Rollout.Status.RUNNING, "", None
        targets_changed()
        rollout_check_finished(rollout=rollout)
    return rollout


def rollout_stop(*, rollout: Rollout) -> Rollout:
    """running/paused/finished → stopped, for good: the rollout keeps holding its feed (no
    fallback to an older rollout) but gives no device its software any more.

    Actions the devices never started are canceled at once; updates already under way are left
    to finish (interrupting a device mid-install is riskier than letting it complete; cancel
    single devices with device_cancel_update if needed). Devices whose action was canceled here
    wait for an operator retry before any later rollout offers them the same software.
    """
    now = timezone.now()
    with transaction.atomic():
        if not Rollout.objects.filter(
            pk=rollout.pk,
            status__in=[Rollout.Status.RUNNING, Rollout.Status.PAUSED, Rollout.Status.FINISHED],
        ).update(status=Rollout.Status.STOPPED, finished_at=now):
            raise _refused(rollout, "stop", "only a running, paused or finished rollout can be stopped")
        rollout.status, rollout.finished_at = Rollout.Status.STOPPED, now
        targets_changed()
        pending = Action.objects.filter(rollout=rollout, status__in=Action.UNSTARTED_STATUSES).select_related(
            "device"
        )
        for action in pending:
            cancel_with_note(action, device=action.device, note=f"rollout {rollout.name!r} stopped")
    return rollout


def rollout_delete(*, rollout: Rollout) -> None:
    """Delete a rollout that never reached a device. One with actions is history: stop it instead."""
    with transaction.atomic():
        if Action.objects.filter(rollout=rollout).exists():
            raise Conflict(
                f"rollout {rollout.pk} ({rollout.name}) has update history and cannot be deleted; "
                "stop it instead"
            )
        try:
            Rollout.objects.filter(pk=rollout.pk).delete()
        except ProtectedError:
            # A device polled and got its first action between our check and the delete.
            raise Conflict(
                f"rollout {rollout.pk} ({rollout.name}) started updating a device just now; stop it instead"
            ) from None
