"""Reads and sets the e2e server's state from a separate process with the server's own settings.

The test process cannot use the ORM for this: pytest-django points it at its own test database,
while the real server under test has a throwaway database of its own. The session fixture starts
this script once with the server's environment; every request is one JSON line on stdin,
``{"op": "<function name>", "kwargs": {...}}``, answered by one line on stdout starting with
``@@agent@@`` and holding ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import django  # noqa: E402

django.setup()

from django.core.files import File  # noqa: E402
from django.db import close_old_connections  # noqa: E402

from devices.models import Device, Hardware  # noqa: E402
from rollouts.models import Action, ActionStatus  # noqa: E402
from software.models import Software  # noqa: E402

PREFIX = "@@agent@@ "


def _device_dict(device: Device) -> dict:
    return {
        "controller_id": device.controller_id,
        "state": device.state,
        "sw_version": device.sw_version,
        "hardware": [device.hardware.model, device.hardware.revision] if device.hardware else None,
        "attributes": device.attributes,
        "request_attributes": device.request_attributes,
        "update_mode": device.update_mode,
        "progress": device.progress,
        "installed_action_id": device.installed_action_id,
    }


def device(*, controller_id: str) -> dict | None:
    found = Device.objects.select_related("hardware").filter(controller_id=controller_id).first()
    return _device_dict(found) if found else None


def actions(*, controller_id: str) -> list[dict]:
    """The device's actions, oldest first, each with its whole status log."""
    out = []
    for action in Action.objects.filter(device__controller_id=controller_id).order_by("id"):
        out.append(
            {
                "id": action.pk,
                "status": action.status,
                "software_id": action.software_id,
                "progress": action.progress,
                "action_type": getattr(action, "action_type", "forced"),
                "statuses": [
                    {
                        "source": status.source,
                        "channel": status.channel,
                        "execution": status.execution,
                        "finished": status.finished,
                        "progress": status.progress,
                        "details": status.details,
                    }
                    for status in action.statuses.order_by("id")
                ],
            }
        )
    return out


def create_software(*, path: str, version: str, board: str = "board", revision: str = "1") -> dict:
    """Store a package as an upload would, through the software service.

    Returns the release id, its package's module id and artifact filename (the service may
    normalise the name).
    """
    from software.services import software_create_from_file

    hardware, _ = Hardware.objects.get_or_create(model=board, revision=revision)
    file_path = Path(path)
    with file_path.open("rb") as handle:
        software = software_create_from_file(file=File(handle, name=file_path.name))
    software.compatibility.add(hardware)
    package = software.package
    assert package is not None
    return {"id": software.pk, "module_id": package.module_id, "filename": package.filename}


def create_release(
    *, name: str, version: str, os_software_id: int, app_files: list[str], app_version: str
) -> dict:
    """A release of the package of ``os_software_id`` plus an application module holding the
    files at ``app_files`` as raw artifacts (a .swu among them is installed by SWUpdate)."""
    from software import services

    os_release = Software.objects.get(pk=os_software_id)
    os_module = os_release.modules.get()
    app = services.module_create(type_key="application", name=f"{name} apps", version=app_version)
    for path in app_files:
        with Path(path).open("rb") as handle:
            services.module_add_artifact(module=app, file=File(handle, name=Path(path).name))
    release = services.release_create(
        name=name,
        version=version,
        modules=[os_module, app],
        compatibility=list(os_release.compatibility.all()),
    )
    return {"id": release.pk, "modules": [os_module.pk, app.pk]}


def create_device(
    *, controller_id: str, board: str = "board", revision: str = "1", sw_version: str = "1.0.0", **fields
) -> dict:
    hardware, _ = Hardware.objects.get_or_create(model=board, revision=revision)
    created = Device.objects.create(
        controller_id=controller_id,
        hardware=hardware,
        sw_version=sw_version,
        attributes={"hw_boardname": board, "hw_revision": revision, "sw_version": sw_version},
        state=Device.State.REGISTERED,
        request_attributes=False,
        **fields,
    )
    return _device_dict(created)


def create_action(*, controller_id: str, software_id: int, status: str = Action.Status.RUNNING) -> int:
    action = Action.objects.create(
        device=Device.objects.get(controller_id=controller_id),
        software_id=software_id,
        reason=Action.Reason.ASSIGNED,
        status=status,
    )
    return action.pk


def assign_software(*, controller_id: str, software_id: int, **deployment: Any) -> None:
    """``deployment``: action_type, forcetime, weight, maintenance_window, as the API takes them."""
    from rollouts.options import deployment_options_validate
    from rollouts.services import device_assign_software

    device_assign_software(
        device=Device.objects.get(controller_id=controller_id),
        software=Software.objects.get(pk=software_id),
        options=deployment_options_validate(**deployment),
    )


def set_token(*, controller_id: str, token: str) -> None:
    from devices.services import device_set_token

    device_set_token(device=Device.objects.get(controller_id=controller_id), token=token)


def set_legacy_token(*, controller_id: str, token: str) -> None:
    """The token as stored before encryption: an unsalted SHA-256 only."""
    from goosebit_project.lib.tokens import legacy_hash

    Device.objects.filter(controller_id=controller_id).update(
        token_hash=legacy_hash(token), token_encrypted=""
    )


def stored_token(*, controller_id: str) -> dict:
    """How the device's token is stored: its state, and the token if it is readable."""
    from goosebit_project.lib.tokens import decrypt_token

    device = Device.objects.get(controller_id=controller_id)
    readable = decrypt_token(device.token_encrypted) if device.token_encrypted else None
    return {"state": device.token_state, "token": readable}


def cancel_action(*, action_id: int) -> str:
    from rollouts.services import action_cancel

    action_cancel(action=Action.objects.get(pk=action_id))
    return Action.objects.get(pk=action_id).status


def cancel_update(*, controller_id: str) -> dict:
    """What an operator's *Cancel update* does (admin, API, command)."""
    from rollouts.services import device_cancel_update

    action = device_cancel_update(device=Device.objects.get(controller_id=controller_id))
    return {"id": action.pk, "status": action.status}


def add_statuses(*, action_id: int, count: int) -> int:
    """Fill an action's log with ``count`` device statuses; returns how many it holds now."""
    ActionStatus.objects.bulk_create(
        ActionStatus(
            action_id=action_id, execution=ActionStatus.Execution.PROCEEDING, details=[f"filler {n}"]
        )
        for n in range(count)
    )
    return ActionStatus.objects.filter(action_id=action_id).count()


def create_rollout(
    *,
    name: str,
    software_id: int,
    feed: str = "",
    query: str = "",
    groups: list[dict] | None = None,
    **fields: Any,
) -> int:
    """A rollout made through rollouts.services.rollout_create, as the API and admin make them.

    ``groups``: GroupSpec fields as a dict each (name, query, target_count, target_percentage,
    success_threshold, success_action, error_threshold, error_count, ...). ``fields``: the other
    keyword arguments of rollout_create (start, dynamic, safety settings; None disables a rule).
    """
    from rollouts.services import GroupSpec, rollout_create

    rollout = rollout_create(
        name=name,
        software=Software.objects.get(pk=software_id),
        feed=feed,
        query=query,
        groups=[GroupSpec(**group) for group in groups] if groups is not None else None,
        **fields,
    )
    return rollout.pk


def rollout(*, rollout_id: int) -> dict:
    """The rollout's state, each group's state and statistics, and the devices each group holds."""
    from rollouts import selectors
    from rollouts.models import Rollout

    found = Rollout.objects.select_related("software").get(pk=rollout_id)
    groups = selectors.rollout_groups_frozen_or_planned(found)
    stats = selectors.rollout_group_stats(rollout=found, groups=groups)
    return {
        "status": found.status,
        "pause_reason": found.pause_reason,
        "groups": [
            {
                "position": group.position,
                "name": group.name,
                "status": group.status,
                "status_reason": group.status_reason,
                "frozen_total": group.frozen_total,
                "stats": stats[group.position].as_dict() if group.position in stats else None,
                "devices": list(
                    selectors.devices_in_group(rollout=found, groups=groups, position=group.position)
                    .order_by("pk")
                    .values_list("controller_id", flat=True)
                ),
            }
            for group in groups
        ],
    }


OPERATIONS = {
    function.__name__: function
    for function in (
        device,
        actions,
        create_software,
        create_device,
        create_action,
        create_release,
        assign_software,
        set_token,
        set_legacy_token,
        stored_token,
        cancel_action,
        cancel_update,
        add_statuses,
        create_rollout,
        rollout,
    )
}


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        close_old_connections()
        try:
            request = json.loads(line)
            result = OPERATIONS[request["op"]](**request.get("kwargs", {}))
            reply = {"ok": True, "result": result}
        except Exception:  # noqa: BLE001 - every failure goes back to the test verbatim
            reply = {"ok": False, "error": traceback.format_exc()}
        sys.stdout.write(PREFIX + json.dumps(reply, default=str) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
