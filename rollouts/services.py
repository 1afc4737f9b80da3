"""The update policy and the action state machine.

Pull-based (design.md): nothing fans out when an operator creates a rollout or changes a mode.
On each poll ``device_reconcile`` compares what the device should run with what it is doing and
creates, keeps or cancels its Action. Feedback moves the Action and the Device summary.

State changes are compare-and-swap ``update()`` calls filtered on the old status, so two workers
handling the same device (SWUpdate polls on a second connection while it downloads) cannot both
win; the partial unique constraint guarantees one active action per device.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import BigIntegerField, Count, Func, ProtectedError, QuerySet, Sum
from django.utils import timezone

from devices.models import Device
from goosebit_project.lib.errors import Conflict, Gone, InvalidInput, NotAllowed, NotFound, QuotaExceeded
from goosebit_project.lib.versions import version_older, versions_equal
from rollouts import options as deployment_options
from rollouts import selectors
from rollouts.models import Action, ActionStatus, Rollout
from rollouts.options import DeploymentOptions
from software.models import Software

ACTIVE_DEVICE_STATES = (
    Device.State.PENDING,
    Device.State.WAIT_FOR_CONFIRMATION,
    Device.State.RUNNING,
    Device.State.CANCELING,
)
CLOSED_ACTION_STATUSES = (Action.Status.FINISHED, Action.Status.ERROR, Action.Status.CANCELED)
_DOWNLOADED_PERCENT = re.compile(r"Downloaded\s+(\d{1,3})%")
SERVER_PREFIX = "Update Server: "

Execution = ActionStatus.Execution
Finished = ActionStatus.Finished


# --- the poll --------------------------------------------------------------------------------


def device_reconcile(*, device: Device) -> Action | None:
    """Return the action to show the device now, creating or canceling actions as needed.

    1. The active action (if the device summary says there is one).
    2. The target from the device's update mode.
    3. Same software → keep offering it; different → cancel the old one (directly if the device
       never started it, else through cancelAction); none → create one, subject to the caps.

    A steady poll (device idle and up to date) costs one query here: the target lookup.
    """
    active = None
    if device.state in ACTIVE_DEVICE_STATES:
        active = selectors.action_active_for_device(device=device)
        if active is None:
            # The summary lagged behind (e.g. a force-quit raced a poll): repair it.
            _set_device_idle(device)
    if active is not None and active.status == Action.Status.CANCELING:
        return active
    if active is not None and deployment_options.window_lapsed(active):
        # hawkBit cancels an action whose maintenance schedule has no window left.
        if _cancel(active, device=device, note="its maintenance schedule has no window left"):
            return active if active.status == Action.Status.CANCELING else None
        return selectors.action_active_for_device(device=device)
    if active is None:
        # The steady poll: an idle device that runs its target needs no further query.
        cached = selectors.cached_target_for_device(device=device)
        if cached is None:
            return None
        if not device.force_update and versions_equal(cached.version, device.sw_version):
            return None

    target = selectors.target_for_device(device=device)
    if active is not None:
        if target is None or target.software.pk == active.software_id:
            # Pinned devices and paused rollouts let an update that already started finish.
            return active
        if not _cancel(active, device=device, note="cancel obsolete action due to new target software"):
            return selectors.action_active_for_device(device=device)
        if active.status == Action.Status.CANCELING:
            return active

    if target is None or not _needs_update(device, target):
        return None
    return _create_action(device, target)


def _needs_update(device: Device, target: selectors.Target) -> bool:
    if device.force_update:
        return True
    if versions_equal(target.software.version, device.sw_version):
        return False
    latest = selectors.action_latest_for_software(device=device, software=target.software)
    if latest is None:
        return True
    # Installed already (the device may report another version string): don't loop on it.
    if latest.status == Action.Status.FINISHED and device.installed_action_id == latest.pk:
        return False
    # Downloaded already: offered again only when the target now asks for an install.
    if latest.status == Action.Status.FINISHED and latest.action_type == Action.ActionType.DOWNLOAD_ONLY:
        return _target_options(device, target).action_type != Action.ActionType.DOWNLOAD_ONLY
    # A failed or canceled attempt at this software waits for an operator retry.
    return latest.status not in (Action.Status.ERROR, Action.Status.CANCELED)


def _lock_action_creation() -> None:
    """Serialise the cap checks across workers: a PostgreSQL transaction-level advisory lock.

    SQLite needs nothing: our connections open IMMEDIATE transactions, which serialise writers.
    Only the (rare) creation path takes it; steady polls never do.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [0x6F05EB17])


def _target_options(device: Device, target: selectors.Target) -> DeploymentOptions:
    """How the target is offered: the rollout's options, the assignment's, or the defaults."""
    if target.rollout is not None:
        return DeploymentOptions.of(target.rollout)
    if target.reason == Action.Reason.ASSIGNED:
        # Deferred on the poll's device row: loads (one query) only when an action is created.
        return DeploymentOptions.from_json(device.assignment_options)
    return DeploymentOptions()


def _create_action(device: Device, target: selectors.Target, *, enforce_caps: bool = True) -> Action | None:
    try:
        with transaction.atomic():
            rollout = target.rollout
            if enforce_caps:
                _lock_action_creation()
                if (
                    selectors.active_update_count(exclude_device=device)
                    >= settings.GOOSEBIT_MAX_CONCURRENT_UPDATES
                ):
                    return None
                if rollout is not None and rollout.max_parallel is not None:
                    if selectors.active_update_count(rollout=rollout) >= rollout.max_parallel:
                        return None
            required = _confirmation_required(device, target)
            asks = required and selectors.confirmation_flow_enabled()
            if asks:
                _read_auto_confirm(device)
            # hawkBit: with the flow on, an action needing consent starts WAIT_FOR_CONFIRMATION,
            # unless the device's auto-confirm answers for it at once.
            wait = asks and not device.auto_confirm
            action = Action.objects.create(
                device=device,
                software=target.software,
                rollout=rollout,
                reason=Action.Reason.FORCED if device.force_update else target.reason,
                status=Action.Status.WAIT_FOR_CONFIRMATION if wait else Action.Status.PENDING,
                confirmation_required=required,
                **_target_options(device, target).model_fields(),
            )
            state = Device.State.WAIT_FOR_CONFIRMATION if wait else Device.State.PENDING
            Device.objects.filter(pk=device.pk).update(state=state, progress=0, force_update=False)
            if wait:
                _server_note(
                    action,
                    Execution.WAITING,
                    "waiting for the device to confirm the update before it proceeds",
                    channel=ActionStatus.Channel.CONFIRMATION,
                )
            elif asks:
                _server_note(
                    action,
                    Execution.CONFIRMED,
                    _auto_confirm_message(device),
                    channel=ActionStatus.Channel.CONFIRMATION,
                )
    except IntegrityError:
        # Another worker created the device's action between our read and our insert.
        return selectors.action_active_for_device(device=device)
    device.state, device.progress, device.force_update = state, 0, False
    return action


def _read_auto_confirm(device: Device) -> None:
    """Refresh the device's auto-confirm state under a lock on its row.

    device_activate_auto_confirm updates that row, so either it committed first (we see it on and
    confirm at once) or it waits for our new action and confirms it: no action is left waiting.
    """
    state = (
        Device.objects.select_for_update()
        .filter(pk=device.pk)
        .values("auto_confirm", "auto_confirm_initiator", "auto_confirm_remark")
        .first()
    )
    if state is not None:
        device.auto_confirm = state["auto_confirm"]
        device.auto_confirm_initiator = state["auto_confirm_initiator"]
        device.auto_confirm_remark = state["auto_confirm_remark"]


def _confirmation_required(device: Device, target: selectors.Target) -> bool:
    """hawkBit's confirmationRequired of what created the action: the rollout's or the
    assignment's setting; ``latest`` mode (gooseBit's own) always asks."""
    if target.rollout is not None:
        return target.rollout.confirmation_required
    if target.reason == Action.Reason.ASSIGNED:
        return device.assigned_confirmation_required
    return True


def _auto_confirm_message(device: Device) -> str:
    initiator = (
        f"initiator {device.auto_confirm_initiator!r}" if device.auto_confirm_initiator else "no initiator"
    )
    remark = f", remark {device.auto_confirm_remark!r}" if device.auto_confirm_remark else ""
    return f"confirmed automatically: auto-confirm is active ({initiator}{remark})"


def device_start_assigned_update(*, device: Device) -> Action | None:
    """An operator assigned software: create the device's action now, not at its next poll.

    So the action's id is known at once and the update can be canceled before the device ever
    polled. An explicit assignment is the operator's decision for these devices: it is offered
    even after an earlier failed or canceled attempt at the same software, and the concurrency
    caps (which pace rollouts and ``latest``) do not hold it back. Returns None when there is
    nothing to do (the device runs that version) or when an update the device already started
    must first be canceled through it: the new action then follows at the poll after the cancel.
    """
    target = selectors.target_for_device(device=device)
    if target is None or target.reason != Action.Reason.ASSIGNED:
        return None
    active = selectors.action_active_for_device(device=device)
    if active is not None:
        if active.software_id == target.software.pk:
            if active.status == Action.Status.PENDING:
                # Not retrieved yet: the new assignment's options replace the old ones.
                fields = _target_options(device, target).model_fields()
                if Action.objects.filter(pk=active.pk, status=Action.Status.PENDING).update(**fields):
                    for name, value in fields.items():
                        setattr(active, name, value)
            return active
        if not _cancel(active, device=device, note="cancel obsolete action due to a new assignment"):
            return None
        if active.status == Action.Status.CANCELING:
            return None
    if versions_equal(target.software.version, device.sw_version) and not device.force_update:
        return None
    return _create_action(device, target, enforce_caps=False)


def devices_withdraw_unstarted_assignments(*, devices: QuerySet[Device]) -> int:
    """The operator moved ``devices`` off their assignment: drop assigned actions never started.

    An assigned action the device has not retrieved yet is only the operator's plan, so it is
    canceled at once; one the device started is left to the update decision (which lets it finish
    or cancels it through the device, as for any change of target). Returns how many were dropped.
    """
    unstarted = Action.objects.filter(
        device__in=devices.order_by().values("pk"),
        status__in=Action.UNSTARTED_STATUSES,
        reason__in=[Action.Reason.ASSIGNED, Action.Reason.FORCED],
        rollout__isnull=True,
    ).select_related("device")
    return sum(
        _cancel(action, device=action.device, note="assignment withdrawn by an operator")
        for action in unstarted
    )


def _idle_state(device: Device) -> str:
    if not device.installed_action_id:
        return Device.State.REGISTERED
    # A retried rollback whose new attempt was canceled is still a rollback.
    return Device.State.ROLLED_BACK if _reports_older_than_installed(device) else Device.State.FINISHED


def _reports_older_than_installed(device: Device) -> bool:
    """The device reports a lower version than its last successful update installed."""
    if device.installed_action_id is None:
        return False
    installed = (
        Action.objects.filter(pk=device.installed_action_id)
        .values_list("software__version", flat=True)
        .first()
    )
    return version_older(device.sw_version, installed)


IDLE_AFTER_UPDATE_STATES = (Device.State.FINISHED, Device.State.ROLLED_BACK)


def device_check_rollback(*, device: Device) -> bool:
    """After a device reported its version: is it running what its last successful update installed?

    A device whose update succeeded and that later reports a *lower* version has rolled back
    (A/B fallback after a failed boot, or a manual downgrade). It becomes "rolled back", the
    update's log gets a note, and rollout statistics and safety rules count it. It is not offered
    the update again by itself (device_reconcile's _needs_update sees the installed action), so it
    cannot loop; an operator retry (device_retry) offers it again, as after a failure. A later
    report of the installed version (or a newer one) makes it "succeeded" again.

    Only idle devices after a successful update are judged; an update under way decides itself.
    Returns True when the device has just been marked rolled back.
    """
    if device.state not in IDLE_AFTER_UPDATE_STATES or not device.installed_action_id:
        return False
    installed = (
        Action.objects.filter(pk=device.installed_action_id).select_related("software", "rollout").first()
    )
    if installed is None:
        return False
    rolled_back = version_older(device.sw_version, installed.software.version)
    state = Device.State.ROLLED_BACK if rolled_back else Device.State.FINISHED
    if state == device.state:
        return False
    # Compare-and-swap on the old state: a poll that just created an action wins.
    if not Device.objects.filter(pk=device.pk, state=device.state).update(
        state=state, progress=None if rolled_back else device.progress
    ):
        return False
    device.state = state
    if not rolled_back:
        return False
    device.progress = None
    _server_note(
        installed,
        Execution.CLOSED,
        f"the device reports version {device.sw_version}, older than {installed.software.version} "
        "installed by this update: rolled back; it is offered again after an operator retry",
    )
    rollout = installed.rollout if installed.rollout_id else None  # no query without a rollout
    if rollout is not None:
        rollout_check_safety(rollout=rollout)
    return True


def _set_device_idle(device: Device) -> None:
    device.state = _idle_state(device)
    device.progress = None
    Device.objects.filter(pk=device.pk).update(state=device.state, progress=None)


def _server_note(action: Action, execution: str, message: str, channel: str = "deployment") -> None:
    ActionStatus.objects.create(
        action=action,
        source=ActionStatus.Source.SERVER,
        channel=channel,
        execution=execution,
        details=[SERVER_PREFIX + message],
    )


def _cancel(action: Action, *, device: Device, note: str) -> bool:
    """Cancel ``action``: at once when the device never started it, else via cancelAction.

    Returns False when the action changed under us (another worker moved it first).
    """
    now = timezone.now()
    with transaction.atomic():
        if Action.objects.filter(pk=action.pk, status__in=Action.UNSTARTED_STATUSES).update(
            status=Action.Status.CANCELED, finished_at=now
        ):
            action.status = Action.Status.CANCELED
            _server_note(action, Execution.CANCELING, note + " (never started: canceled directly)")
            _set_device_idle(device)
            return True
        if Action.objects.filter(pk=action.pk, status=Action.Status.RUNNING).update(
            status=Action.Status.CANCELING
        ):
            action.status = Action.Status.CANCELING
            _server_note(action, Execution.CANCELING, note)
            Device.objects.filter(pk=device.pk).update(state=Device.State.CANCELING)
            device.state = Device.State.CANCELING
            return True
    return False


def action_mark_started(*, action: Action) -> None:
    """The device retrieved its deployment: from now on a cancel must go through the device."""
    if Action.objects.filter(pk=action.pk, status=Action.Status.PENDING).update(status=Action.Status.RUNNING):
        action.status = Action.Status.RUNNING
        Device.objects.filter(pk=action.device_id, state=Device.State.PENDING).update(
            state=Device.State.RUNNING
        )


# --- operator actions ------------------------------------------------------------------------


def action_cancel(*, action: Action) -> Action:
    """An operator cancels a device's update.

    The device will not be offered the same software again until an operator retries.
    """
    if action.status == Action.Status.CANCELING:
        return action
    if action.status in CLOSED_ACTION_STATUSES:
        raise NotAllowed(f"action {action.pk} is {action.get_status_display().lower()} already")
    if not _cancel(action, device=action.device, note="canceled by an operator"):
        action.refresh_from_db()
        if action.status in CLOSED_ACTION_STATUSES:
            raise NotAllowed(f"action {action.pk} is {action.get_status_display().lower()} already")
    return action


def action_force_quit(*, action: Action) -> Action:
    """Close a CANCELING action without the device (it may never confirm the cancel)."""
    with transaction.atomic():
        if not Action.objects.filter(pk=action.pk, status=Action.Status.CANCELING).update(
            status=Action.Status.CANCELED, finished_at=timezone.now()
        ):
            raise NotAllowed(
                f"only an update being canceled can be force-quit; action {action.pk} is "
                f"{action.get_status_display().lower()}"
            )
        action.status = Action.Status.CANCELED
        _server_note(action, Execution.CANCELING, "force-quit by an operator", channel="cancel")
        _set_device_idle(action.device)
    return action


def action_force(*, action: Action) -> Action:
    """Turn an open soft or time-forced update into a forced one (hawkBit's "force" of an action).

    The next poll offers it as ``download: forced, update: forced`` with a new ``c``, so the device
    re-reads it. A maintenance window still applies.
    """
    forceable = (Action.ActionType.SOFT, Action.ActionType.TIMEFORCED)
    with transaction.atomic():
        if Action.objects.filter(
            pk=action.pk, status__in=[Action.Status.PENDING, Action.Status.RUNNING], action_type__in=forceable
        ).update(action_type=Action.ActionType.FORCED, forcetime=None):
            previous = action.get_action_type_display().lower()
            action.action_type, action.forcetime = Action.ActionType.FORCED, None
            _server_note(action, Execution.SCHEDULED, f"switched from {previous} to forced by an operator")
            return action
    action.refresh_from_db(fields=["status", "action_type", "forcetime"])
    if action.status not in (Action.Status.PENDING, Action.Status.RUNNING):
        raise NotAllowed(
            f"only an open update can be forced; action {action.pk} is {action.get_status_display().lower()}"
        )
    if action.action_type == Action.ActionType.FORCED:
        raise NotAllowed(f"action {action.pk} is forced already")
    raise NotAllowed(
        f"action {action.pk} is download-only: it cannot be forced into an install; assign the software "
        "again as a forced update"
    )


def device_record_offline_install(*, device: Device, software: Software) -> Action | None:
    """hawkBit's offline assignment: ``software`` was installed outside the server (in the
    factory, by hand): record it as assigned and installed without a round trip to the device.

    A finished action with a success note stands for the install, so the device's history and
    installedBase show it; the device is assigned ``software`` so the next poll offers nothing.
    Returns None when there is nothing to record: an update is under way (the device is busy
    with another plan) or the device has this software installed already. Refused when the
    device's known hardware does not fit the software.
    """
    if device.hardware_id is not None and not software.compatibility.filter(pk=device.hardware_id).exists():
        raise InvalidInput(
            f"software {software.version} ({software.name}) is not compatible with "
            f"{device.controller_id}'s hardware {device.hardware}"
        )
    now = timezone.now()
    with transaction.atomic():
        # Lock the device row so a poll cannot create an action between our check and our write.
        device = Device.objects.select_for_update().get(pk=device.pk)
        if selectors.action_active_for_device(device=device) is not None:
            return None
        installed_id = device.installed_action_id
        if installed_id is not None and (
            Action.objects.filter(pk=installed_id).values_list("software_id", flat=True).first()
            == software.pk
        ):
            return None
        action = Action.objects.create(
            device=device,
            software=software,
            reason=Action.Reason.ASSIGNED,
            status=Action.Status.FINISHED,
            finished_at=now,
        )
        ActionStatus.objects.create(
            action=action,
            source=ActionStatus.Source.SERVER,
            execution=Execution.CLOSED,
            finished=Finished.SUCCESS,
            details=[SERVER_PREFIX + "installed offline: recorded by an operator without the device"],
        )
        Device.objects.filter(pk=device.pk).update(
            update_mode=Device.UpdateMode.ASSIGNED,
            assigned_software=software,
            assignment_options={},
            force_update=False,
            installed_action=action,
            sw_version=software.version,
            state=Device.State.FINISHED,
            progress=None,
            updated=now,
        )
    return action


# --- feedback --------------------------------------------------------------------------------


@dataclass
class Feedback:
    """One DDI feedback, already validated by the protocol layer."""

    execution: str
    finished: str = Finished.NONE
    progress_cnt: int | None = None
    progress_of: int | None = None
    code: int | None = None
    details: list[str] = field(default_factory=list)


def _progress(feedback: Feedback) -> int | None:
    for line in reversed(feedback.details):
        matches = _DOWNLOADED_PERCENT.findall(line)
        if matches:
            return min(100, int(matches[-1]))
    if feedback.progress_cnt is not None and feedback.progress_of:
        # SWUpdate's counters are not always sane (ddi.md §3.3): clamp rather than reject.
        return max(0, min(100, feedback.progress_cnt * 100 // feedback.progress_of))
    return None


class LogQuotaExceeded(QuotaExceeded):
    """The action's log reached GOOSEBIT_DDI_MAX_LOG_BYTES_PER_ACTION (hawkBit: storage quota)."""


class _JsonBytes(Func):
    """The size in bytes of a JSON column's text, on PostgreSQL and SQLite."""

    output_field = BigIntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="octet_length((%(expressions)s)::text)", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="length(CAST(%(expressions)s AS BLOB))", **extra)


LOG_FULL_MARKER = "[earlier lines of this feedback dropped: the update log reached its size limit]"


def _details_bytes(details: list[str]) -> int:
    return len(json.dumps(details).encode())


def _fit_final_details(details: list[str], room: int) -> list[str]:
    """The newest lines of a final feedback that fit in ``room`` bytes, after a marker line.

    A final feedback must be stored so the action can close; its last lines (where SWUpdate puts
    the error) matter most. At least one line is kept, so the log can overshoot its limit by
    at most one line (GOOSEBIT_DDI_MAX_DETAIL_BYTES).
    """
    kept: list[str] = []
    for line in reversed(details):
        if kept and _details_bytes([LOG_FULL_MARKER, line, *kept]) > room:
            break
        kept.insert(0, line)
    return [LOG_FULL_MARKER, *kept]


def _check_quotas(action: Action, feedback: Feedback) -> list[str]:
    """Raise QuotaExceeded when the feedback does not fit; return the details to store.

    Runs under the action's lock (action_record_feedback), so concurrent feedbacks count each
    other: the caps are exact.
    """
    max_details = settings.GOOSEBIT_DDI_MAX_DETAILS_PER_FEEDBACK
    if len(feedback.details) > max_details:
        raise QuotaExceeded(f"a feedback may carry at most {max_details} details")
    stored = ActionStatus.objects.filter(action_id=action.pk).aggregate(
        count=Count("id"), size=Sum(_JsonBytes("details"))
    )
    final = feedback.execution == Execution.CLOSED
    max_statuses = settings.GOOSEBIT_DDI_MAX_STATUSES_PER_ACTION
    # A final feedback is never blocked, or the action could never close.
    if not final and stored["count"] >= max_statuses:
        raise QuotaExceeded(f"action {action.pk} has reached {max_statuses} status messages")
    max_bytes = settings.GOOSEBIT_DDI_MAX_LOG_BYTES_PER_ACTION
    room = max_bytes - (stored["size"] or 0)
    if _details_bytes(feedback.details) <= room:
        return feedback.details
    if not final:
        raise LogQuotaExceeded(
            f"the log of action {action.pk} would exceed {max_bytes} bytes "
            "(GOOSEBIT_DDI_MAX_LOG_BYTES_PER_ACTION); only a final (closed) feedback is accepted now"
        )
    return _fit_final_details(feedback.details, room)


def _lock_action(action: Action) -> str | None:
    """Lock the action's row until the transaction ends and return its current status.

    PostgreSQL: a row lock, so feedbacks for one action wait for each other (feedbacks for other
    actions do not). SQLite needs nothing more: our connections open IMMEDIATE transactions,
    which serialise writers.
    """
    return Action.objects.select_for_update().filter(pk=action.pk).values_list("status", flat=True).first()


def action_record_feedback(*, action: Action, channel: str, feedback: Feedback) -> Action:
    """Store a device's feedback and move the action and the device summary.

    Deployment channel: proceeding/scheduled/resumed/download/downloaded → running;
    closed+success|none → finished (the device runs the software); closed+failure → error;
    rejected and canceled are logged only (hawkBit keeps the action active).
    Cancel channel: closed+success|none → canceled; closed+failure or rejected → running again.

    Everything happens under the action's lock: the quotas count what concurrent feedbacks
    stored, and of two final feedbacks sent at once the first closes the action and the second
    gets Gone (410) with nothing stored.
    """
    progress = _progress(feedback) if channel == ActionStatus.Channel.DEPLOYMENT else None
    with transaction.atomic():
        status = _lock_action(action)
        if status is None:
            raise Gone(f"action {action.pk} no longer exists")
        action.status = status
        if action.status in CLOSED_ACTION_STATUSES:
            raise Gone(f"action {action.pk} is closed ({action.get_status_display().lower()})")
        if (
            action.status == Action.Status.WAIT_FOR_CONFIRMATION
            and channel == ActionStatus.Channel.DEPLOYMENT
        ):
            # hawkBit: 404 until the device confirmed it (ddi.md §1.4).
            raise NotFound(f"action {action.pk} is waiting for confirmation")
        if channel == ActionStatus.Channel.CANCEL and action.status != Action.Status.CANCELING:
            raise NotAllowed(f"action {action.pk} is not being canceled")
        details = _check_quotas(action, feedback)
        deployment = channel == ActionStatus.Channel.DEPLOYMENT
        waiting_note = _window_skip_note(action, feedback) if deployment else None
        if waiting_note is not None and _newest_waiting_note(action) == waiting_note:
            return action  # SWUpdate skips again on every poll while the window is closed
        ActionStatus.objects.create(
            action=action,
            channel=channel,
            execution=feedback.execution,
            finished=feedback.finished,
            progress=progress,
            code=feedback.code,
            details=details,
        )
        if channel == ActionStatus.Channel.CANCEL:
            _apply_cancel_feedback(action, feedback)
        elif waiting_note is not None:
            _server_note(action, Execution.SCHEDULED, waiting_note)
        else:
            _apply_deployment_feedback(action, feedback, progress)
    return action


def _window_skip_note(action: Action, feedback: Feedback) -> str | None:
    """The note for a device that "finished" an update it was told to skip for its window.

    SWUpdate answers ``update: skip`` with closed/success "Skipped Update." (ddi.md §3.3) without
    installing anything. Outside the maintenance window that must not finish an update meant to
    install: the action stays open and is offered again, with a new ``c``, once the window opens.
    A closed/success counts as such a skip when the window is closed now and the device has not
    reported any work on the action (a device that installed inside the window and confirms after
    a reboot has sent progress first). Download-only updates finish on it instead.
    """
    if feedback.execution != Execution.CLOSED or feedback.finished == Finished.FAILURE:
        return None
    if action.action_type == Action.ActionType.DOWNLOAD_ONLY or not action.maintenance_schedule:
        return None
    now = deployment_options.now()
    if not deployment_options.window_closed(action, at=now):
        return None
    worked = (
        ActionStatus.objects.filter(action_id=action.pk, source=ActionStatus.Source.DEVICE)
        .exclude(execution=Execution.CLOSED)
        .exists()
    )
    if worked:
        return None
    window = deployment_options.DeploymentOptions.of(action).maintenance_window
    assert window is not None  # maintenance_schedule is set
    upcoming = window.window_at(now)
    when = upcoming.start.strftime("%Y-%m-%d %H:%M:%S UTC") if upcoming else "never (the schedule has lapsed)"
    return (
        "the device skipped the update outside its maintenance window; it stays open and is "
        f"offered again when the window opens: {when}"
    )


def _newest_waiting_note(action: Action) -> str | None:
    details = (
        ActionStatus.objects.filter(
            action_id=action.pk, source=ActionStatus.Source.SERVER, execution=Execution.SCHEDULED
        )
        .order_by("-id")
        .values_list("details", flat=True)
        .first()
    )
    return details[0].removeprefix(SERVER_PREFIX) if details else None


def _finish_download_only(action: Action, feedback: Feedback) -> None:
    """A download-only update is done once the device has the file: it did not install it, so
    the device's installed version and installed update stay as they were (ddi.md §1.4)."""
    if Action.objects.filter(pk=action.pk, status__in=Action.ACTIVE_STATUSES).update(
        status=Action.Status.FINISHED, finished_at=timezone.now(), progress=100, last_code=feedback.code
    ):
        action.status = Action.Status.FINISHED
        device = Device.objects.only("pk", "installed_action", "sw_version", "state").get(pk=action.device_id)
        device.force_update = False
        Device.objects.filter(pk=device.pk).update(force_update=False)
        _set_device_idle(device)
        if action.rollout is not None:  # no query without a rollout_id
            rollout_check_finished(rollout=action.rollout)


def _apply_deployment_feedback(action: Action, feedback: Feedback, progress: int | None) -> None:
    device_id = action.device_id
    now = timezone.now()
    if action.action_type == Action.ActionType.DOWNLOAD_ONLY and feedback.finished != Finished.FAILURE:
        # rauc-hawkbit-updater reports downloaded/success; SWUpdate closed/success "Skipped Update.".
        if feedback.execution in (Execution.DOWNLOADED, Execution.CLOSED):
            _finish_download_only(action, feedback)
            return
    if feedback.execution == Execution.CLOSED:
        if feedback.finished == Finished.FAILURE:
            if Action.objects.filter(pk=action.pk, status__in=Action.ACTIVE_STATUSES).update(
                status=Action.Status.ERROR, finished_at=now, last_code=feedback.code
            ):
                action.status = Action.Status.ERROR
                Device.objects.filter(pk=device_id).update(state=Device.State.ERROR, force_update=False)
                if action.rollout is not None:  # no query without a rollout_id
                    rollout_check_safety(rollout=action.rollout)
            return
        # success or none: the device runs this software now ("install wins over cancel").
        if Action.objects.filter(pk=action.pk, status__in=Action.ACTIVE_STATUSES).update(
            status=Action.Status.FINISHED, finished_at=now, progress=100, last_code=feedback.code
        ):
            action.status = Action.Status.FINISHED
            Device.objects.filter(pk=device_id).update(
                state=Device.State.FINISHED,
                progress=100,
                sw_version=action.software.version,
                installed_action=action,
                request_attributes=True,
                force_update=False,
            )
            if action.rollout is not None:  # no query without a rollout_id
                rollout_check_finished(rollout=action.rollout)
        return

    if feedback.execution in (Execution.REJECTED, Execution.CANCELED):
        return  # informational: the action stays active (hawkBit)
    # proceeding, scheduled, resumed, download, downloaded: the device is working on it.
    action_fields: dict = {"last_code": feedback.code} if feedback.code is not None else {}
    if progress is not None:
        action_fields["progress"] = progress
    if Action.objects.filter(pk=action.pk, status=Action.Status.PENDING).update(
        status=Action.Status.RUNNING, **action_fields
    ):
        action.status = Action.Status.RUNNING
    elif action_fields:
        Action.objects.filter(pk=action.pk).update(**action_fields)
    device_fields: dict = {"progress": progress} if progress is not None else {}
    # Not while canceling: the device summary keeps saying a cancel is under way.
    Device.objects.filter(pk=device_id).exclude(state=Device.State.CANCELING).update(
        state=Device.State.RUNNING, **device_fields
    )


def _apply_cancel_feedback(action: Action, feedback: Feedback) -> None:
    device = action.device
    if feedback.execution == Execution.CLOSED and feedback.finished != Finished.FAILURE:
        if Action.objects.filter(pk=action.pk, status=Action.Status.CANCELING).update(
            status=Action.Status.CANCELED, finished_at=timezone.now()
        ):
            action.status = Action.Status.CANCELED
            _set_device_idle(device)
        return
    if feedback.execution == Execution.REJECTED or feedback.execution == Execution.CLOSED:
        # The device could not (or would not) stop: the update carries on via deploymentBase.
        if Action.objects.filter(pk=action.pk, status=Action.Status.CANCELING).update(
            status=Action.Status.RUNNING
        ):
            action.status = Action.Status.RUNNING
            Device.objects.filter(pk=device.pk).update(state=Device.State.RUNNING)


# --- confirmation (hawkBit's user-consent flow, ddi.md §1.8) --------------------------------
#
# With the flow on (selectors.confirmation_flow_enabled), an action whose assignment or rollout
# requires confirmation starts in WAIT_FOR_CONFIRMATION: the device sees confirmationBase instead
# of deploymentBase until it confirms (or its auto-confirm does). Confirmed, the action is pending
# like any other; a denial keeps it waiting. Existing waiting actions stay answerable after the
# flow is turned off.

AUTO_CONFIRM_FALLBACK_REMARK = "Initiated using the Device Direct Integration API without providing a remark."
MAX_INITIATOR_LENGTH = 64  # hawkBit's USERNAME_FIELD_LENGTH
MAX_REMARK_LENGTH = 512  # hawkBit's DESCRIPTION_MAX_SIZE


@dataclass
class ConfirmationFeedback:
    """One DDI confirmation feedback (``confirmed`` or ``denied``), validated by the protocol layer."""

    confirmed: bool
    code: int | None = None
    details: list[str] = field(default_factory=list)


def action_record_confirmation(*, action: Action, feedback: ConfirmationFeedback) -> Action:
    """Store the device's answer to a confirmation request and move the action.

    confirmed: waiting → pending; the device is then offered deploymentBase. denied: the action
    keeps waiting; a confirmed action the device has not fetched yet goes back to waiting (a
    revoked confirmation, only while the flow is on). Gone when the action is closed; NotFound
    when it is not waiting for confirmation (e.g. being canceled, or already under way).
    """
    execution = Execution.CONFIRMED if feedback.confirmed else Execution.DENIED
    with transaction.atomic():
        status = _lock_action(action)
        if status is None:
            raise Gone(f"action {action.pk} no longer exists")
        action.status = status
        if status in CLOSED_ACTION_STATUSES:
            raise Gone(f"action {action.pk} is closed ({action.get_status_display().lower()})")
        revoke = (
            not feedback.confirmed
            and status == Action.Status.PENDING
            and action.confirmation_required
            and selectors.confirmation_flow_enabled()
        )
        if status != Action.Status.WAIT_FOR_CONFIRMATION and not revoke:
            raise NotFound(f"action {action.pk} is not waiting for confirmation")
        details = _check_quotas(
            action, Feedback(execution=execution, code=feedback.code, details=feedback.details)
        )
        ActionStatus.objects.create(
            action=action,
            channel=ActionStatus.Channel.CONFIRMATION,
            execution=execution,
            code=feedback.code,
            details=details,
        )
        channel = ActionStatus.Channel.CONFIRMATION
        if feedback.confirmed:
            _confirm(action, note="the device confirmed the update: it proceeds")
        elif revoke:
            Action.objects.filter(pk=action.pk, status=Action.Status.PENDING).update(
                status=Action.Status.WAIT_FOR_CONFIRMATION
            )
            action.status = Action.Status.WAIT_FOR_CONFIRMATION
            Device.objects.filter(pk=action.device_id, state=Device.State.PENDING).update(
                state=Device.State.WAIT_FOR_CONFIRMATION
            )
            _server_note(
                action,
                Execution.WAITING,
                "the device revoked its confirmation: the update waits for confirmation again",
                channel=channel,
            )
        else:
            _server_note(
                action,
                Execution.WAITING,
                "the device denied the update: it keeps waiting for confirmation",
                channel=channel,
            )
    return action


def _confirm(action: Action, *, note: str) -> bool:
    """waiting → pending (compare-and-swap), with a server note; False if it was not waiting."""
    if not Action.objects.filter(pk=action.pk, status=Action.Status.WAIT_FOR_CONFIRMATION).update(
        status=Action.Status.PENDING
    ):
        return False
    action.status = Action.Status.PENDING
    Device.objects.filter(pk=action.device_id, state=Device.State.WAIT_FOR_CONFIRMATION).update(
        state=Device.State.PENDING
    )
    _server_note(action, Execution.CONFIRMED, note, channel=ActionStatus.Channel.CONFIRMATION)
    return True


def _clean_optional_text(name: str, value: str | None, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{name} is at most {limit} characters, got {len(value)}")
    if "\x00" in value:
        raise InvalidInput(f"{name} must not contain NUL characters")
    return value


def device_activate_auto_confirm(
    *, device: Device, initiator: str | None = None, remark: str | None = None
) -> list[Action]:
    """Turn on the device's auto-confirm (hawkBit's activateAutoConfirm, by the device or an operator).

    Every update waiting for its confirmation is confirmed now, and future ones as they are
    created, in the name of ``initiator``. Conflict when it is active already. Returns the
    actions confirmed now.
    """
    initiator = _clean_optional_text("initiator", initiator, MAX_INITIATOR_LENGTH)
    remark = _clean_optional_text("remark", remark, MAX_REMARK_LENGTH)
    now = timezone.now()
    with transaction.atomic():
        if not Device.objects.filter(pk=device.pk, auto_confirm=False).update(
            auto_confirm=True,
            auto_confirm_initiator=initiator,
            auto_confirm_remark=remark,
            auto_confirm_activated_at=now,
            updated=now,
        ):
            if not Device.objects.filter(pk=device.pk).exists():
                raise NotFound(f"device {device.controller_id} no longer exists")
            raise Conflict(f"auto-confirm is already active for device {device.controller_id}")
        device.auto_confirm, device.auto_confirm_activated_at = True, now
        device.auto_confirm_initiator, device.auto_confirm_remark = initiator, remark
        waiting = Action.objects.filter(device_id=device.pk, status=Action.Status.WAIT_FOR_CONFIRMATION)
        confirmed = [action for action in waiting if _confirm(action, note=_auto_confirm_message(device))]
    if confirmed and device.state == Device.State.WAIT_FOR_CONFIRMATION:
        device.state = Device.State.PENDING
    return confirmed


def device_deactivate_auto_confirm(*, device: Device) -> Device:
    """Turn the device's auto-confirm off: later updates wait for its confirmation again.

    Idempotent, as in hawkBit (deactivating an inactive auto-confirm answers 200).
    """
    now = timezone.now()
    Device.objects.filter(pk=device.pk, auto_confirm=True).update(
        auto_confirm=False,
        auto_confirm_initiator="",
        auto_confirm_remark="",
        auto_confirm_activated_at=None,
        updated=now,
    )
    device.auto_confirm, device.auto_confirm_activated_at = False, None
    device.auto_confirm_initiator = device.auto_confirm_remark = ""
    return device


# --- rollout safety --------------------------------------------------------------------------


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
    _targets_changed()
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


def _targets_changed() -> None:
    """Drop cached poll targets now, and again once the transition is committed.

    The second call closes a race: a worker polling between the first call and the commit would
    cache the old target under the new generation (for up to TARGET_CACHE_SECONDS).
    """
    selectors.target_cache_invalidate()
    transaction.on_commit(selectors.target_cache_invalidate)


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
        _targets_changed()
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
    _targets_changed()
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
        _targets_changed()
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
        _targets_changed()
        pending = Action.objects.filter(rollout=rollout, status__in=Action.UNSTARTED_STATUSES).select_related(
            "device"
        )
        for action in pending:
            _cancel(action, device=action.device, note=f"rollout {rollout.name!r} stopped")
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
