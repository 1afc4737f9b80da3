"""Which release a target should run and runs: hawkBit's assignedDS / installedDS, both ways.

``/rest/v1/targets/{id}/assignedDS`` and ``installedDS``, ``/rest/v1/distributionsets/{id}/
assignedTargets`` and ``installedTargets``. A release is hawkBit's distribution set.

A target's *assigned* release is what it is being brought to: the release of its update under
way, else the one an operator assigned, else the one it has installed (in sync). Assigning goes
through rollouts.services.device_assign_software, which puts the device in assigned mode and
creates its action at once; ``?offline=true`` records the release as installed without the
device (rollouts.services.device_record_offline_install). The answer counts, as hawkBit's, the
new actions (``assigned``) and the targets that had the release already (``alreadyAssigned``).
A target whose running update must first be canceled through the device gets its new action
only after that, so it is in neither count.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from devices.models import Device
from goosebit_project.lib.versions import versions_equal
from mgmt import errors
from mgmt.paging import paged_response
from mgmt.representations import software as representations
from mgmt.views.actions import parse_id
from mgmt.views.base import MgmtView, link
from mgmt.views.targets import (
    TARGET_QUERY_FIELDS,
    TARGET_SORT_FIELDS,
    device_or_404,
    optional_boolean,
    target_json,
    targets_queryset,
)
from rollouts import options as deployment_options
from rollouts import selectors as rollout_selectors
from rollouts import services as rollout_services
from rollouts.models import Action
from software import selectors as software_selectors
from software.models import Software

_REPOSITORY = "org.eclipse.hawkbit.repository.exception."
ACTION_TYPES = ("soft", "forced", "timeforced", "downloadonly")
# The last millisecond of year 9999: later forcetimes are not dates Python can hold.
MAX_FORCETIME = 253402300799999
# hawkBit names for our option fields (rollouts.options.InvalidOption.field).
_FIELD_NAMES = {"action_type": "type", "forcetime": "forcetime", "weight": "weight"}


def _maintenance_invalid(message: str) -> errors.MgmtError:
    return errors.MgmtError(
        400,
        "hawkbit.server.error.maintenanceScheduleInvalid",
        _REPOSITORY + "InvalidMaintenanceScheduleException",
        message,
    )


def _multi_assignment(message: str) -> errors.MgmtError:
    return errors.MgmtError(
        400,
        "hawkbit.server.error.multiAssignmentNotEnabled",
        _REPOSITORY + "MultiAssignmentIsNotEnabledException",
        message,
    )


# --- the distribution set JSON ----------------------------------------------------------------


def distribution_set_json(request: Request, software: Software) -> dict[str, Any]:
    """hawkBit's MgmtDistributionSet for a release, as /rest/v1/distributionsets answers it."""
    release = software_selectors.releases_list(deleted_mode="INCLUDE_SOFT_DELETED").get(pk=software.pk)
    return representations.distribution_set(request, release)


def assigned_software_of(device: Device) -> Software | None:
    """What the device is being brought to: its update under way, its assignment, else what it runs."""
    active = rollout_selectors.action_active_for_device(device=device)
    if active is not None:
        return active.software
    if device.update_mode == Device.UpdateMode.ASSIGNED and device.assigned_software_id:
        return device.assigned_software
    return installed_software_of(device)


def installed_software_of(device: Device) -> Software | None:
    if device.installed_action_id is None:
        return None
    return Software.objects.filter(actions__pk=device.installed_action_id).first()


def devices_assigned(software: Software) -> QuerySet[Device]:
    """The devices whose assigned release (assigned_software_of) is ``software``, in one query."""
    active = Action.objects.filter(device=OuterRef("pk"), status__in=Action.ACTIVE_STATUSES)
    busy = Exists(active)
    explicit = Q(update_mode=Device.UpdateMode.ASSIGNED, assigned_software__isnull=False)
    return targets_queryset().filter(
        Exists(active.filter(software=software))
        | (~busy & explicit & Q(assigned_software=software))
        | (~busy & ~explicit & Q(installed_action__software=software))
    )


def software_or_404(raw_id: Any, *, where: str = "") -> Software:
    if isinstance(raw_id, bool) or not isinstance(raw_id, int | str):
        raise errors.bad_request(f"{where}id must be the id of a distribution set")
    software = Software.objects.filter(pk=parse_id(str(raw_id), "distribution set")).first()
    if software is None:
        raise errors.not_found(f"distribution set {raw_id} does not exist")
    return software


# --- reading an assignment --------------------------------------------------------------------


def _forcetime(entry: dict[str, Any], where: str) -> datetime | None:
    value = entry.get("forcetime")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FORCETIME:
        raise errors.bad_request(f"{where}forcetime must be milliseconds since the epoch")
    return datetime.fromtimestamp(value / 1000, tz=UTC) if value else None


def _weight(entry: dict[str, Any], where: str) -> int | None:
    value = entry.get("weight")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise errors.bad_request(
            f"{where}weight must be a whole number from 0 to {deployment_options.MAX_WEIGHT}"
        )
    return value


def _window(entry: dict[str, Any], where: str) -> dict[str, str] | None:
    window = entry.get("maintenanceWindow")
    if window is None:
        return None
    if not isinstance(window, dict):
        raise _maintenance_invalid(
            f"{where}maintenanceWindow must be an object with schedule, duration and timezone"
        )
    for key in ("schedule", "duration", "timezone"):
        value = window.get(key)
        if value is not None and not isinstance(value, str):
            raise _maintenance_invalid(f"{where}maintenanceWindow.{key} must be a string")
        if isinstance(value, str) and len(value) > 256:
            raise _maintenance_invalid(f"{where}maintenanceWindow.{key} is too long")
    return {key: window.get(key) or "" for key in ("schedule", "duration", "timezone")}


class Assignment:
    """One validated entry of an assignment request."""

    def __init__(self, entry: Any, where: str) -> None:
        if not isinstance(entry, dict):
            raise errors.body_not_readable(f"{where.rstrip('.') or 'the body'} must be a JSON object")
        action_type = entry.get("type")
        if action_type is None:
            action_type = "forced"
        if not isinstance(action_type, str) or action_type.lower() not in ACTION_TYPES:
            raise errors.bad_request(
                f"{where}type must be one of {', '.join(ACTION_TYPES)}, got {action_type!r}"
            )
        action_type = action_type.lower()
        forcetime = _forcetime(entry, where)
        if action_type == "timeforced" and forcetime is None:
            raise errors.bad_request(f"{where}forcetime is required for a timeforced assignment")
        confirmation_required = optional_boolean(entry, "confirmationRequired", where=where)
        try:
            self.options = deployment_options.deployment_options_validate(
                action_type=action_type,
                forcetime=forcetime if action_type == "timeforced" else None,
                weight=_weight(entry, where),
                maintenance_window=_window(entry, where),
            )
        except deployment_options.InvalidOption as exc:
            if exc.field.startswith("maintenance_window"):
                name = exc.field.replace("maintenance_window", "maintenanceWindow")
                raise _maintenance_invalid(f"{where}{name} {exc.problem}") from None
            raise errors.bad_request(
                f"{where}{_FIELD_NAMES.get(exc.field, exc.field)} {exc.problem}"
            ) from None
        # hawkBit: a confirmation is required unless the assignment says otherwise (it matters
        # only with the confirmation flow on).
        self.confirmation_required = True if confirmation_required is None else confirmation_required


class Outcome:
    def __init__(self) -> None:
        self.actions: list[Action] = []
        self.already_assigned = 0

    def as_json(self, request: Request) -> dict[str, Any]:
        return {
            "alreadyAssigned": self.already_assigned,
            "assignedActions": [
                {
                    "id": action.pk,
                    "_links": {
                        "self": link(request, "target-action", action.device.controller_id, action.pk)
                    },
                }
                for action in self.actions
            ],
            "assigned": len(self.actions),
            "total": len(self.actions) + self.already_assigned,
        }


def _has_it_already(device: Device, software: Software) -> bool:
    if device.update_mode != Device.UpdateMode.ASSIGNED or device.assigned_software_id != software.pk:
        return False
    active = rollout_selectors.action_active_for_device(device=device)
    if active is not None:
        return active.software_id == software.pk
    return versions_equal(device.sw_version, software.version) and not device.force_update


def assign(outcome: Outcome, device: Device, software: Software, assignment: Assignment) -> None:
    device.refresh_from_db()  # the same target may be listed twice
    if _has_it_already(device, software):
        outcome.already_assigned += 1
        return
    before = rollout_selectors.action_active_for_device(device=device)
    rollout_services.device_assign_software(
        device=device,
        software=software,
        confirmation_required=assignment.confirmation_required,
        options=assignment.options,
    )
    after = rollout_selectors.action_active_for_device(device=device)
    if after is not None and after.software_id == software.pk:
        if before is not None and after.pk == before.pk:
            outcome.already_assigned += 1  # e.g. its rollout was bringing it there already
        else:
            after.device = device
            outcome.actions.append(after)
    elif after is None and versions_equal(device.sw_version, software.version):
        outcome.already_assigned += 1  # it runs this release: nothing to install


def assign_offline(outcome: Outcome, device: Device, software: Software) -> None:
    action = rollout_services.device_record_offline_install(device=device, software=software)
    if action is None:
        outcome.already_assigned += 1
    else:
        action.device = device
        outcome.actions.append(action)


def _offline(request: Request) -> bool:
    raw = request.query_params.get("offline", "false").strip().lower()
    if raw not in ("true", "false"):
        raise errors.bad_request(f"offline must be true or false, got {raw[:20]!r}")
    return raw == "true"


# --- views ------------------------------------------------------------------------------------


class TargetAssignedDSView(MgmtView):
    # As hawkBit: a target's own sets are part of reading the target.
    required_permissions = {
        "GET": ["READ_TARGET"],
        "POST": ["UPDATE_TARGET", "READ_DISTRIBUTION_SET"],
    }

    def get(self, request: Request, controller_id: str) -> Response:
        software = assigned_software_of(device_or_404(controller_id))
        if software is None:
            return Response(status=204)
        return Response(distribution_set_json(request, software))

    def post(self, request: Request, controller_id: str) -> Response:
        offline = _offline(request)
        # hawkBit takes one assignment or a list of them.
        entries = request.data if isinstance(request.data, list) else [self.body_object(request)]
        if not entries:
            raise errors.bad_request('send the distribution set to assign: {"id": ...}')
        if len(entries) > 1:
            raise _multi_assignment("a target runs one distribution set: assign one at a time")
        where = "[0]." if isinstance(request.data, list) else ""
        device = device_or_404(controller_id)
        entry = entries[0]
        assignment = Assignment(entry, where)
        software = software_or_404(entry.get("id"), where=where)
        outcome = Outcome()
        with transaction.atomic():
            if offline:
                assign_offline(outcome, device, software)
            else:
                assign(outcome, device, software, assignment)
        return Response(outcome.as_json(request))


class TargetInstalledDSView(MgmtView):
    required_permissions = {"GET": ["READ_TARGET"]}

    def get(self, request: Request, controller_id: str) -> Response:
        software = installed_software_of(device_or_404(controller_id))
        if software is None:
            return Response(status=204)
        return Response(distribution_set_json(request, software))


def _target_page(request: Request, devices: QuerySet[Device]) -> Response:
    return paged_response(
        request,
        devices,
        render=lambda device: target_json(request, device),
        sort_fields=TARGET_SORT_FIELDS,
        default_sort=["controller_id"],
        query_fields=TARGET_QUERY_FIELDS,
    )


class DistributionSetAssignedTargetsView(MgmtView):
    paged = True
    required_permissions = {
        "GET": ["READ_TARGET", "READ_DISTRIBUTION_SET"],
        "POST": ["UPDATE_TARGET", "READ_DISTRIBUTION_SET"],
    }

    def get(self, request: Request, ds_id: str) -> Response:
        return _target_page(request, devices_assigned(software_or_404(ds_id)))

    def post(self, request: Request, ds_id: str) -> Response:
        offline = _offline(request)
        entries = self.body_list(request)
        software = software_or_404(ds_id)
        planned: list[tuple[Device, Assignment]] = []
        for index, entry in enumerate(entries):
            where = f"[{index}]."
            assignment = Assignment(entry, where)
            controller_id = entry.get("id")
            if not isinstance(controller_id, str) or not controller_id:
                raise errors.bad_request(f"{where}id must be the controllerId of a target")
            planned.append((device_or_404(controller_id), assignment))
        outcome = Outcome()
        with transaction.atomic():
            for device, assignment in planned:
                if offline:
                    assign_offline(outcome, device, software)
                else:
                    assign(outcome, device, software, assignment)
        return Response(outcome.as_json(request))


class DistributionSetInstalledTargetsView(MgmtView):
    paged = True
    required_permissions = {"GET": ["READ_TARGET", "READ_DISTRIBUTION_SET"]}

    def get(self, request: Request, ds_id: str) -> Response:
        software = software_or_404(ds_id)
        return _target_page(request, targets_queryset().filter(installed_action__software=software))
