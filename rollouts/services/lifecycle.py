"""Rollouts: create, approve, change, start, pause, resume, stop, retry, delete."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from devices import tenant_config
from devices.models import Device
from goosebit_project.lib.errors import Conflict, InvalidInput
from rollouts.models import Action, Rollout
from rollouts.options import DeploymentOptions
from rollouts.selectors.device_queries import device_query_compile
from rollouts.selectors.membership import retry_condition
from rollouts.services.actions import cancel_with_note
from rollouts.services.cache import targets_changed
from rollouts.services.groups import (
    UNSTARTED,
    GroupSpec,
    InvalidSetting,
    rollout_resume_groups,
    rollout_set_groups,
    rollouts_start_due,
    start_with_groups,
)
from software.models import Software

# --- rollout lifecycle -----------------------------------------------------------------------
#
# (approval on) waiting_for_approval ──approve──▶ draft ◀── (approval off: created as a draft)
#                        └──deny──▶ approval_denied
#
# draft ──start (or start_at)──▶ running ──pause──▶ paused ──resume──▶ running
#                    │  ╲                  │
#                    │   ╲──(last group)──▶ finished
#                    ▼                     ▼
#                  stopped ◀──stop── (running, paused, finished)
#
# Inside a running rollout its groups go scheduled → running → finished (or error, which pauses
# the rollout): rollouts.services.groups.
#
# Every transition is a compare-and-swap on the old status, so two operators (or an operator
# and the automatic pause) cannot both win; the loser gets a Conflict naming the current state.


class _Unset(enum.Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET
"""Marks a safety setting the caller did not give: the GOOSEBIT_ROLLOUT_* default applies."""

MAX_NAME_LENGTH = 255
MAX_SETTING = 2**31 - 1


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
    if not isinstance(feed, str):
        raise InvalidInput("a feed name must be text")
    feed = feed.strip()
    if len(feed) > 255:
        raise InvalidInput("a feed name is at most 255 characters")
    return feed


def _clean_targets(feed: str, query: str) -> tuple[str, str]:
    feed = _clean_feed(feed)
    if not isinstance(query, str):
        raise InvalidSetting("query", "must be a device query (text)")
    query = query.strip()
    if len(query) > 4096:
        raise InvalidSetting("query", "is at most 4096 characters")
    if query:
        try:
            device_query_compile(query=query)
        except InvalidInput as error:
            raise InvalidSetting("query", str(error)) from error
    if not feed and not query:
        raise InvalidInput(
            "a rollout needs a feed or a device query: the devices following that feed (and "
            "matching the query) receive its software"
        )
    return feed, query


def _clean_start_at(start_at: datetime | None) -> datetime | None:
    if start_at is None:
        return None
    if not isinstance(start_at, datetime) or timezone.is_naive(start_at):
        raise InvalidSetting("start_at", "must be a date and time with its time zone")
    return start_at


def _clean_description(description: str) -> str:
    if not isinstance(description, str) or len(description) > 512 or "\x00" in description:
        raise InvalidSetting("description", "must be text of at most 512 characters")
    return description


def _default_groups() -> list[GroupSpec]:
    return [GroupSpec(name="All devices")]


def _default(value, setting: str):
    return getattr(settings, setting) if value is UNSET else value


@transaction.atomic
def rollout_create(
    *,
    name: str,
    software: Software,
    feed: str = "",
    query: str = "",
    description: str = "",
    groups: Sequence[GroupSpec] | None = None,
    dynamic: bool = True,
    start_at: datetime | None = None,
    start: bool = False,
    pause_on_failure_percent: int | None | _Unset = UNSET,
    pause_min_results: int | _Unset = UNSET,
    pause_on_failure_count: int | None | _Unset = UNSET,
    max_parallel: int | None | _Unset = UNSET,
    created_by: User | None = None,
    confirmation_required: bool = True,
    options: DeploymentOptions | None = None,
    retry_of: Rollout | None = None,
) -> Rollout:
    """Create a rollout of ``software`` to the devices of ``feed`` matching ``query``.

    ``groups`` (rollouts.services.groups.GroupSpec; groups_canary and groups_even build the
    usual ones) split them into waves; none: one group of all. With the tenant setting
    ``rollout.approval.enabled`` the rollout waits for another operator's approval (four eyes),
    otherwise it is a draft, started now with ``start``, or by itself at ``start_at``.

    Safety settings not given take the GOOSEBIT_ROLLOUT_* defaults; None disables a rule.
    ``options`` (rollouts.options) say how its updates are offered; each action the rollout
    creates copies them, and like the targets and software they are fixed once created. Targets
    without any compatible device are allowed (devices may join later): rollout_preview tells the
    operator beforehand how many devices it would reach, selectors.rollout_warnings afterwards.
    """
    name = _clean_name(name)
    feed, query = _clean_targets(feed, query)
    if retry_of is None and not feed and not query:
        raise InvalidInput("a rollout needs a feed or a device query")
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
    approval = tenant_config.cache.get().rollout_approval_enabled
    rollout = Rollout.objects.create(
        name=name,
        description=_clean_description(description),
        feed=feed,
        query=query,
        retry_of=retry_of,
        dynamic=bool(dynamic),
        start_at=_clean_start_at(start_at),
        software=software,
        created_by=created_by,
        status=Rollout.Status.WAITING_FOR_APPROVAL if approval else Rollout.Status.DRAFT,
        confirmation_required=bool(confirmation_required),
        **safety,
        **(options or DeploymentOptions()).model_fields(),
    )
    rollout_set_groups(rollout=rollout, groups=groups if groups is not None else _default_groups())
    if rollout.start_at is not None:
        targets_changed()  # every worker learns the new schedule
    if start and not approval:
        rollout_start(rollout=rollout)
    return rollout


def _decide(rollout: Rollout, *, by: User | None, remark: str, approve: bool) -> Rollout:
    verb = "approve" if approve else "deny"
    if by is None:
        raise InvalidInput(f"an approver is needed to {verb} a rollout")
    if rollout.created_by_id is not None and rollout.created_by_id == by.pk:
        raise Conflict(
            f"{by.get_username()} created rollout {rollout.pk} ({rollout.name}) and cannot {verb} it: "
            "four eyes need another operator"
        )
    if not isinstance(remark, str) or len(remark) > 512:
        raise InvalidSetting("remark", "must be text of at most 512 characters")
    status = Rollout.Status.DRAFT if approve else Rollout.Status.APPROVAL_DENIED
    now = timezone.now()
    with transaction.atomic():
        if not Rollout.objects.filter(pk=rollout.pk, status=Rollout.Status.WAITING_FOR_APPROVAL).update(
            status=status,
            approval_decided_by=by.get_username(),
            approval_decided_at=now,
            approval_remark=remark,
        ):
            raise _refused(rollout, verb, "only a rollout waiting for approval can be approved or denied")
        rollout.status = status
        rollout.approval_decided_by, rollout.approval_decided_at, rollout.approval_remark = (
            by.get_username(),
            now,
            remark,
        )
        targets_changed()
    if approve and rollout.start_at is not None and rollout.start_at <= now:
        rollouts_start_due()
        rollout.refresh_from_db()
    return rollout


def rollout_approve(*, rollout: Rollout, by: User | None, remark: str = "") -> Rollout:
    """waiting_for_approval → draft, by another operator than its creator (four eyes)."""
    return _decide(rollout, by=by, remark=remark, approve=True)


def rollout_deny(*, rollout: Rollout, by: User | None, remark: str = "") -> Rollout:
    """waiting_for_approval → approval_denied, for good (create a new one to try again)."""
    return _decide(rollout, by=by, remark=remark, approve=False)


def rollout_retry(*, rollout: Rollout, created_by: User | None = None, start: bool = False) -> Rollout:
    """A new rollout of the same software to the devices whose update in ``rollout`` failed
    (hawkBit's retry): one group, the same options and safety settings. Conflict while the
    rollout is still running (its failures are not final) or when nothing failed."""
    if rollout.status not in (Rollout.Status.PAUSED, Rollout.Status.STOPPED, Rollout.Status.FINISHED):
        raise Conflict(
            f"rollout {rollout.pk} ({rollout.name}) is {rollout.get_status_display().lower()}: "
            "only a paused, stopped or finished rollout can be retried"
        )
    if not Device.objects.filter(retry_condition(rollout.pk)).exists():
        raise Conflict(f"rollout {rollout.pk} ({rollout.name}) has no failed device to retry")
    return rollout_create(
        name=f"{rollout.name} (retry)"[:MAX_NAME_LENGTH],
        software=rollout.software,
        feed=rollout.feed,
        query=rollout.query,
        description=f"Retry of the failed devices of rollout {rollout.pk}",
        dynamic=False,
        created_by=created_by,
        confirmation_required=rollout.confirmation_required,
        options=DeploymentOptions.of(rollout),
        retry_of=rollout,
        pause_on_failure_percent=rollout.pause_on_failure_percent,
        pause_min_results=rollout.pause_min_results,
        pause_on_failure_count=rollout.pause_on_failure_count,
        max_parallel=rollout.max_parallel,
        start=start,
    )


def rollout_update(
    *,
    rollout: Rollout,
    name: str | _Unset = UNSET,
    pause_on_failure_percent: int | None | _Unset = UNSET,
    pause_min_results: int | _Unset = UNSET,
    pause_on_failure_count: int | None | _Unset = UNSET,
    max_parallel: int | None | _Unset = UNSET,
    description: str | _Unset = UNSET,
    start_at: datetime | None | _Unset = UNSET,
    groups: Sequence[GroupSpec] | _Unset = UNSET,
) -> Rollout:
    """Rename a rollout or change its safety settings, in any state; its description too, and
    before it started its groups and scheduled start.

    Feed and software are fixed once created: to ship something else, create a new rollout (it
    takes the feed over). Raising a threshold is how an operator lets an automatically paused
    rollout carry on past failures it accepts.
    """
    changes: dict = {}
    if name is not UNSET:
        changes["name"] = _clean_name(name)
    if description is not UNSET:
        changes["description"] = _clean_description(description)
    if start_at is not UNSET or groups is not UNSET:
        if rollout.status not in UNSTARTED:
            raise Conflict(
                f"rollout {rollout.pk} ({rollout.name}) has started: its groups and start time are fixed"
            )
    if start_at is not UNSET:
        changes["start_at"] = _clean_start_at(start_at)
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
    with transaction.atomic():
        if groups is not UNSET:
            rollout_set_groups(rollout=rollout, groups=groups)
        if not changes:
            return rollout
        for field_name, value in changes.items():
            setattr(rollout, field_name, value)
        rollout.save(update_fields=[*changes, "updated"])
        if "start_at" in changes:
            targets_changed()
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
    """draft → running: its groups are frozen and the first opens; from now on, its devices get
    its software when they poll, group by group (rollouts.services.groups)."""
    with transaction.atomic():
        if not start_with_groups(rollout=rollout):
            raise _refused(rollout, "start", "only a draft can be started")
    rollout.refresh_from_db()
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
        rollout_resume_groups(rollout=rollout)
    rollout.refresh_from_db()
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
