"""The update policy and the action state machine: which action a device has and its transitions.

Pull-based (design.md): nothing fans out when an operator creates a rollout or changes a mode.
On each poll ``device_reconcile`` compares what the device should run with what it is doing and
creates, keeps or cancels its Action.

State changes are compare-and-swap ``update()`` calls filtered on the old status, so two workers
handling the same device (SWUpdate polls on a second connection while it downloads) cannot both
win; the partial unique constraint guarantees one active action per device.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from devices.models import Device
from goosebit_project.lib.errors import NotAllowed
from goosebit_project.lib.versions import version_older, versions_equal
from rollouts import options as deployment_options
from rollouts import selectors
from rollouts.models import Action, ActionStatus
from rollouts.options import DeploymentOptions
from rollouts.services.groups import rollouts_start_due
from rollouts.services.safety import rollout_check_safety

ACTIVE_DEVICE_STATES = (
    Device.State.PENDING,
    Device.State.WAIT_FOR_CONFIRMATION,
    Device.State.RUNNING,
    Device.State.CANCELING,
)
CLOSED_ACTION_STATUSES = (Action.Status.FINISHED, Action.Status.ERROR, Action.Status.CANCELED)
DOWNLOADED_PERCENT = re.compile(r"Downloaded\s+(\d{1,3})%")
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
    if selectors.scheduled_start_due():
        # Pull-based scheduling: the first poll after a rollout's start time starts it.
        rollouts_start_due()
    active = None
    if device.state in ACTIVE_DEVICE_STATES:
        active = selectors.action_active_for_device(device=device)
        if active is None:
            # The summary lagged behind (e.g. a force-quit raced a poll): repair it.
            set_device_idle(device)
    if active is not None and active.status == Action.Status.CANCELING:
        return active
    if active is not None and deployment_options.window_lapsed(active):
        # hawkBit cancels an action whose maintenance schedule has no window left.
        if cancel_with_note(active, device=device, note="its maintenance schedule has no window left"):
            return active if active.status == Action.Status.CANCELING else None
        return selectors.action_active_for_device(device=device)
    if active is None:
        # The steady poll: an idle device that runs its target needs no further query.
        cached = selectors.cached_target_for_device(device=device)
        if cached is None or cached.settles(device):
            return None

    target = selectors.target_for_device(device=device)
    if active is not None:
        if target is None or target.software.pk == active.software_id:
            # Pinned devices and paused rollouts let an update that already started finish.
            return active
        if not cancel_with_note(
            active, device=device, note="cancel obsolete action due to new target software"
        ):
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
    # A failed or canceled attempt at this software waits for an operator retry; a retry rollout
    # (rollout_retry) is one, for the attempts it retries.
    if target.rollout is not None and target.rollout.retry_of_id is not None:
        if latest.rollout_id == target.rollout.retry_of_id:
            return True
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
    """How the target is offered: the rollout's options, the saved filter's (auto-assignment),
    the assignment's, or the defaults."""
    if target.rollout is not None:
        return DeploymentOptions.of(target.rollout)
    if target.auto_assignment is not None:
        return target.auto_assignment.options
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
                rollout_group=target.group,
                reason=Action.Reason.FORCED if device.force_update else target.reason,
                status=Action.Status.WAIT_FOR_CONFIRMATION if wait else Action.Status.PENDING,
                confirmation_required=required,
                **_target_options(device, target).model_fields(),
            )
            state = Device.State.WAIT_FOR_CONFIRMATION if wait else Device.State.PENDING
            Device.objects.filter(pk=device.pk).update(state=state, progress=0, force_update=False)
            if wait:
                server_note(
                    action,
                    Execution.WAITING,
                    "waiting for the device to confirm the update before it proceeds",
                    channel=ActionStatus.Channel.CONFIRMATION,
                )
            elif asks:
                server_note(
                    action,
                    Execution.CONFIRMED,
                    auto_confirm_message(device),
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
    if target.group is not None and target.group.confirmation_required is not None:
        return target.group.confirmation_required
    if target.rollout is not None:
        return target.rollout.confirmation_required
    if target.auto_assignment is not None:
        return target.auto_assignment.confirmation_required
    if target.reason == Action.Reason.ASSIGNED:
        return device.assigned_confirmation_required
    return True


def auto_confirm_message(device: Device) -> str:
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
        if not cancel_with_note(active, device=device, note="cancel obsolete action due to a new assignment"):
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
        cancel_with_note(action, device=action.device, note="assignment withdrawn by an operator")
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
    server_note(
        installed,
        Execution.CLOSED,
        f"the device reports version {device.sw_version}, older than {installed.software.version} "
        "installed by this update: rolled back; it is offered again after an operator retry",
    )
    rollout = installed.rollout if installed.rollout_id else None  # no query without a rollout
    if rollout is not None:
        rollout_check_safety(rollout=rollout)
    return True


def set_device_idle(device: Device) -> None:
    device.state = _idle_state(device)
    device.progress = None
    Device.objects.filter(pk=device.pk).update(state=device.state, progress=None)


def server_note(action: Action, execution: str, message: str, channel: str = "deployment") -> None:
    ActionStatus.objects.create(
        action=action,
        source=ActionStatus.Source.SERVER,
        channel=channel,
        execution=execution,
        details=[SERVER_PREFIX + message],
    )


def cancel_with_note(action: Action, *, device: Device, note: str) -> bool:
    """Cancel ``action``: at once when the device never started it, else via cancelAction.

    Returns False when the action changed under us (another worker moved it first).
    """
    now = timezone.now()
    with transaction.atomic():
        if Action.objects.filter(pk=action.pk, status__in=Action.UNSTARTED_STATUSES).update(
            status=Action.Status.CANCELED, finished_at=now
        ):
            action.status = Action.Status.CANCELED
            server_note(action, Execution.CANCELING, note + " (never started: canceled directly)")
            set_device_idle(device)
            return True
        if Action.objects.filter(pk=action.pk, status=Action.Status.RUNNING).update(
            status=Action.Status.CANCELING
        ):
            action.status = Action.Status.CANCELING
            server_note(action, Execution.CANCELING, note)
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
    if not cancel_with_note(action, device=action.device, note="canceled by an operator"):
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
        server_note(action, Execution.CANCELING, "force-quit by an operator", channel="cancel")
        set_device_idle(action.device)
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
            server_note(action, Execution.SCHEDULED, f"switched from {previous} to forced by an operator")
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


# --- feedback --------------------------------------------------------------------------------
