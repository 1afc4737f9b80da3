"""Operator decisions about what a device runs: update mode, feed, assignment, cancel, force, retry.

They change the Device row and the device's Action together, so they live with the actions:
an assignment creates its action at once (hawkBit's model), leaving assigned mode withdraws an
action the device never started, and a cancel goes through the action state machine. The admin
edits one device through device_configure and many through the devices_* functions, which write
with one UPDATE so that "select all 20,000 devices of this feed" stays one statement.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Case, F, QuerySet, Value, When
from django.utils import timezone

from devices.models import Device
from devices.services import (
    device_update,
    device_update_attributes,
    device_validate_feed,
    devices_update_fields,
)
from goosebit_project.lib.errors import Conflict, InvalidInput, NotAllowed
from rollouts import selectors
from rollouts.models import Action, ActionStatus
from rollouts.options import DeploymentOptions
from rollouts.services.actions import (
    SERVER_PREFIX,
    Execution,
    Finished,
    action_cancel,
    action_force,
    action_force_quit,
    device_check_rollback,
    device_start_assigned_update,
    devices_withdraw_unstarted_assignments,
)
from software.models import Software


def _check_compatible(*, device: Device, software: Software) -> None:
    """Refuse software the device's known hardware does not fit.

    A device that has not reported its hardware may be assigned anything, as in hawkBit: the
    operator knows the device, and device_assignment_warnings says nothing was checked. So may
    a release that lists no hardware at all (hawkBit's distribution sets have no such list, so
    one made through /rest/v1 or a raw upload without hardware fits every device).
    """
    if software.deleted and device.assigned_software_id != software.pk:
        # Keeping an assignment made before the delete is fine; a new one is not.
        raise InvalidInput(f"software {software.version} ({software.name}) is deleted: it cannot be assigned")
    if device.hardware_id is None or not software.compatibility.exists():
        return
    if not software.compatibility.filter(pk=device.hardware_id).exists():
        raise InvalidInput(
            f"software {software.version} ({software.name}) is not compatible with "
            f"{device.controller_id}'s hardware {device.hardware}"
        )


def device_assignment_warnings(*, device: Device, software: Software) -> list[str]:
    """What an operator should know about assigning ``software`` to ``device`` (may be empty)."""
    if device.hardware_id is None:
        return [
            f"device {device.controller_id} has not reported its hardware, so the compatibility of "
            f"software {software.version} ({software.name}) with it was not checked"
        ]
    if not software.compatibility.exists():
        return [
            f"software {software.version} ({software.name}) lists no compatible hardware, so its "
            f"fit with {device.controller_id}'s hardware {device.hardware} was not checked"
        ]
    return []


@transaction.atomic
def device_assign_software(
    *,
    device: Device,
    software: Software,
    confirmation_required: bool = True,
    options: DeploymentOptions | None = None,
) -> Device:
    """Assigned mode: the device should run exactly this software; its action exists at once.

    Refused when the device's known hardware does not fit; allowed when it is not known yet.
    ``options`` (rollouts.options.deployment_options_validate) say how it is offered: action
    type, forcetime, weight, maintenance window; forced without a window when not given.
    ``confirmation_required`` (hawkBit's confirmationRequired) matters only with the confirmation
    flow on: then the action waits for the device to confirm it.
    """
    _check_compatible(device=device, software=software)
    device.update_mode = Device.UpdateMode.ASSIGNED
    device.assigned_software = software
    device.assigned_confirmation_required = confirmation_required
    device.force_update = False
    device.assignment_options = (options or DeploymentOptions()).as_json()
    device.save(
        update_fields=[
            "update_mode",
            "assigned_software",
            "assigned_confirmation_required",
            "assignment_options",
            "force_update",
            "updated",
        ]
    )
    device_start_assigned_update(device=device)
    return device


def _withdraw_assignment(device: Device) -> None:
    """Leaving assigned mode drops the assignment's action if the device never started it."""
    if devices_withdraw_unstarted_assignments(devices=Device.objects.filter(pk=device.pk)):
        device.refresh_from_db(fields=["state", "progress"])


def device_set_feed(*, device: Device, feed: str) -> Device:
    """Rollout mode: the device follows the rollouts of ``feed``."""
    feed = device_validate_feed(feed=feed)
    device.update_mode = Device.UpdateMode.ROLLOUT
    device.feed = feed
    device.assigned_software = None
    device.save(update_fields=["update_mode", "feed", "assigned_software", "updated"])
    _withdraw_assignment(device)
    return device


def device_set_latest(*, device: Device) -> Device:
    device.update_mode = Device.UpdateMode.LATEST
    device.assigned_software = None
    device.save(update_fields=["update_mode", "assigned_software", "updated"])
    _withdraw_assignment(device)
    return device


def device_pin(*, device: Device) -> Device:
    """Pinned: no update is offered; an update already running is left to finish."""
    device.update_mode = Device.UpdateMode.PINNED
    device.save(update_fields=["update_mode", "updated"])
    _withdraw_assignment(device)
    return device


def device_unpin(*, device: Device) -> Device:
    """Back to following the device's feed."""
    return device_set_feed(device=device, feed=device.feed or "default")


RETRYABLE_STATES = (Device.State.ERROR, Device.State.ROLLED_BACK)


def device_retry(*, device: Device) -> Device:
    """After a failed or rolled-back update: offer the target software again on the next poll."""
    device.force_update = True
    fields = ["force_update", "updated"]
    if device.state in RETRYABLE_STATES:
        device.state = Device.State.REGISTERED
        fields.append("state")
    device.save(update_fields=fields)
    return device


def device_cancel_update(*, device: Device) -> Action:
    """Cancel the device's current update: at once if it never started, else via cancelAction.

    The device is not offered the same software again until an operator retries it.
    """
    action = selectors.action_active_for_device(device=device)
    if action is None:
        raise Conflict(f"device {device.controller_id} has no update under way to cancel")
    action.device = device
    try:
        return action_cancel(action=action)
    except NotAllowed as error:
        # The update closed between our read and the cancel.
        raise Conflict(error.message) from None


def device_force_action(*, device: Device) -> Action:
    """Switch the device's open soft or time-forced update to forced (rollouts.services.action_force)."""
    action = selectors.action_active_for_device(device=device)
    if action is None:
        raise Conflict(f"device {device.controller_id} has no update under way to force")
    action.device = device
    return action_force(action=action)


def device_force_quit(*, device: Device) -> Action:
    """Close a cancel the device never confirms (it may be offline for good or not support it)."""
    action = selectors.action_active_for_device(device=device)
    if action is None or action.status != Action.Status.CANCELING:
        raise Conflict(
            f"device {device.controller_id} has no update being canceled; "
            "force-quit applies only after a cancel the device has not confirmed"
        )
    action.device = device
    try:
        return action_force_quit(action=action)
    except NotAllowed as error:
        raise Conflict(error.message) from None


def device_validate_configuration(
    *, device: Device, update_mode: str, feed: str, assigned_software: Software | None
) -> None:
    """Raise InvalidInput unless the update settings can be applied to ``device``."""
    if update_mode not in Device.UpdateMode.values:
        raise InvalidInput(f"unknown update mode {update_mode!r}")
    if update_mode == Device.UpdateMode.ROLLOUT:
        device_validate_feed(feed=feed)
    if update_mode == Device.UpdateMode.ASSIGNED:
        if assigned_software is None:
            raise InvalidInput("choose the software to assign")
        _check_compatible(device=device, software=assigned_software)


@transaction.atomic
def device_configure(
    *,
    device: Device,
    name: str,
    update_mode: str,
    feed: str,
    assigned_software: Software | None,
    confirmation_required: bool = True,
    options: DeploymentOptions | None = None,
) -> Device:
    """Apply what an operator chose on a device's page: its name and how it gets updates.

    ``options`` apply to an assignment (how it is offered); other modes ignore them.
    """
    device_validate_configuration(
        device=device, update_mode=update_mode, feed=feed, assigned_software=assigned_software
    )
    device_update(device=device, name=name)
    if update_mode == Device.UpdateMode.ROLLOUT:
        device_set_feed(device=device, feed=feed)
    elif update_mode == Device.UpdateMode.ASSIGNED:
        assert assigned_software is not None  # checked by device_validate_configuration
        device_assign_software(
            device=device,
            software=assigned_software,
            confirmation_required=confirmation_required,
            options=options,
        )
    elif update_mode == Device.UpdateMode.LATEST:
        device_set_latest(device=device)
    else:
        device_pin(device=device)
    return device


def devices_set_feed(*, devices: QuerySet[Device], feed: str) -> int:
    """Rollout mode on ``feed`` for every device; returns how many changed."""
    feed = device_validate_feed(feed=feed)
    devices_withdraw_unstarted_assignments(devices=devices)
    return devices_update_fields(
        devices, update_mode=Device.UpdateMode.ROLLOUT, feed=feed, assigned_software=None
    )


def devices_set_latest(*, devices: QuerySet[Device]) -> int:
    devices_withdraw_unstarted_assignments(devices=devices)
    return devices_update_fields(devices, update_mode=Device.UpdateMode.LATEST, assigned_software=None)


def devices_pin(*, devices: QuerySet[Device]) -> int:
    devices_withdraw_unstarted_assignments(devices=devices)
    return devices_update_fields(devices, update_mode=Device.UpdateMode.PINNED)


def devices_unpin(*, devices: QuerySet[Device]) -> int:
    """Pinned devices go back to their feed (the default feed if they had none); others are left."""
    return devices_update_fields(
        devices.filter(update_mode=Device.UpdateMode.PINNED),
        update_mode=Device.UpdateMode.ROLLOUT,
        feed=Case(When(feed="", then=Value("default")), default=F("feed")),
        assigned_software=None,
    )


def devices_incompatible_with(*, devices: QuerySet[Device], software: Software) -> QuerySet[Device]:
    """The devices whose known hardware ``software`` does not fit.

    Devices that have not reported their hardware are not among them, and none are for a
    release that lists no hardware (see _check_compatible).
    """
    if not software.compatibility.exists():
        return devices.none()
    fitting = software.compatibility.values("pk")
    return devices.filter(hardware__isnull=False).exclude(hardware__in=fitting)


@transaction.atomic
def devices_assign_software(
    *,
    devices: QuerySet[Device],
    software: Software,
    confirmation_required: bool = True,
    options: DeploymentOptions | None = None,
) -> int:
    """Assigned mode with ``software`` for every device; every known hardware must fit it.

    Devices without reported hardware are assigned unchecked, like device_assign_software.
    """
    if software.deleted:
        raise InvalidInput(f"software {software.version} ({software.name}) is deleted: it cannot be assigned")
    incompatible = list(
        devices_incompatible_with(devices=devices, software=software)
        .order_by("controller_id")
        .values_list("controller_id", flat=True)[:6]
    )
    if incompatible:
        shown = ", ".join(incompatible[:5]) + (", …" if len(incompatible) > 5 else "")
        raise InvalidInput(
            f"software {software.version} ({software.name}) does not fit every selected device: {shown}"
        )
    count = devices_update_fields(
        devices,
        update_mode=Device.UpdateMode.ASSIGNED,
        assigned_software=software,
        assigned_confirmation_required=confirmation_required,
        force_update=False,
        assignment_options=(options or DeploymentOptions()).as_json(),
    )
    for device in devices.order_by("pk").iterator():
        device_start_assigned_update(device=device)
    return count


def devices_retry_failed(*, devices: QuerySet[Device]) -> int:
    """Offer the target again to devices whose last update failed or rolled back (see device_retry)."""
    return devices_update_fields(
        devices.filter(state__in=RETRYABLE_STATES), force_update=True, state=Device.State.REGISTERED
    )


def devices_force_update(*, devices: QuerySet[Device]) -> int:
    """Offer the target on the next poll even if the device reports that version already."""
    return devices_update_fields(devices, force_update=True)


def devices_cancel_updates(*, devices: QuerySet[Device]) -> int:
    """Cancel every pending or running update of ``devices``; returns how many were canceled."""
    canceled = 0
    actions = Action.objects.filter(
        device__in=devices.order_by().values("pk"),
        status__in=[Action.Status.PENDING, Action.Status.WAIT_FOR_CONFIRMATION, Action.Status.RUNNING],
    ).select_related("device")
    for action in actions:
        try:
            action_cancel(action=action)
        except NotAllowed:
            continue  # the device closed it meanwhile
        canceled += 1
    return canceled


def device_report_attributes(*, device: Device, data: dict[str, Any], mode: str = "merge") -> Device:
    """What a device reports about itself (DDI configData), then whether that is a rollback.

    An older version than the last successful update installed is a rollback (or the installed
    one again: no longer one), which device_check_rollback records.
    """
    return device_update_attributes(
        device=device,
        data=data,
        mode=mode,
        on_version_change=lambda changed: device_check_rollback(device=changed),
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
    _check_compatible(device=device, software=software)
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
