"""What the device commands print: one dict for --json, a few lines for people."""

from __future__ import annotations

from typing import Any

from devices.models import Device
from rollouts import selectors as rollout_selectors
from rollouts.models import Action


def _when(value: Any) -> str | None:
    return value.isoformat() if value else None


def device_summary(device: Device) -> dict[str, Any]:
    """The update settings an operator command changes."""
    return {
        "device": device.controller_id,
        "update_mode": device.update_mode,
        "feed": device.feed,
        "assigned_software": device.assigned_software_id,
        "force_update": device.force_update,
        "state": device.state,
    }


def device_summary_text(device: Device) -> str:
    mode = device.update_mode
    if mode == Device.UpdateMode.ROLLOUT:
        mode = f"rollout (feed {device.feed!r})"
    elif mode == Device.UpdateMode.ASSIGNED and device.assigned_software is not None:
        mode = f"assigned {device.assigned_software.version} (software {device.assigned_software_id})"
    retry = ", retry on next poll" if device.force_update else ""
    return f"{device.controller_id}: {mode}, {device.get_state_display().lower()}{retry}"


def action_data(action: Action, *, log_lines: int) -> dict[str, Any]:
    statuses = list(action.statuses.order_by("-id")[:log_lines])[::-1]
    return {
        "id": action.pk,
        "status": action.status,
        "reason": action.reason,
        "software": {"id": action.software_id, "version": action.software.version},
        "rollout": action.rollout_id,
        "progress": action.progress,
        "created": _when(action.created),
        "updated": _when(action.updated),
        "log": [
            {
                "time": _when(status.created),
                "source": status.source,
                "channel": status.channel,
                "execution": status.execution,
                "finished": status.finished,
                "progress": status.progress,
                "code": status.code,
                "details": status.details,
            }
            for status in statuses
        ],
    }


def device_status_data(device: Device, *, log_lines: int) -> dict[str, Any]:
    target = rollout_selectors.target_for_device(device=device)
    rollout = (
        rollout_selectors.rollout_for_device(device=device)
        if device.update_mode == Device.UpdateMode.ROLLOUT
        else None
    )
    action = rollout_selectors.action_active_for_device(device=device) or (
        device.actions.select_related("software").order_by("-created", "-id").first()
    )
    return {
        "device": device.controller_id,
        "name": device.name,
        "hardware": str(device.hardware) if device.hardware else None,
        "sw_version": device.sw_version,
        "update_mode": device.update_mode,
        "feed": device.feed,
        "assigned_software": device.assigned_software_id,
        "rollout": {"id": rollout.pk, "name": rollout.name, "status": rollout.status} if rollout else None,
        "target": (
            {
                "software": target.software.pk,
                "version": target.software.version,
                "reason": target.reason,
                "rollout": target.rollout.pk if target.rollout else None,
            }
            if target
            else None
        ),
        "state": device.state,
        "progress": device.progress,
        "force_update": device.force_update,
        "last_seen": _when(device.last_seen),
        "last_ip": device.last_ip,
        "action": action_data(action, log_lines=log_lines) if action else None,
        "action_active": bool(action and action.is_active),
    }


def device_status_text(data: dict[str, Any]) -> str:
    out = [
        f"Device {data['device']}" + (f" ({data['name']})" if data["name"] else ""),
        f"Hardware: {data['hardware'] or 'unknown'}; installed version: {data['sw_version'] or 'unknown'}",
    ]
    mode = data["update_mode"]
    if mode == Device.UpdateMode.ROLLOUT:
        mode += f", feed {data['feed']!r}"
        if data["rollout"]:
            rollout = data["rollout"]
            mode += f", rollout {rollout['id']} {rollout['name']!r} ({rollout['status']})"
    out.append(f"Update mode: {mode}")
    target = data["target"]
    out.append(
        f"Target: {target['version']} (software {target['software']}, {target['reason']})"
        if target
        else "Target: none"
    )
    progress = f" {data['progress']}%" if data["progress"] is not None else ""
    retry = ", retry requested" if data["force_update"] else ""
    out.append(f"State: {data['state']}{progress}{retry}")
    out.append(
        f"Last seen: {data['last_seen'] or 'never'}" + (f" from {data['last_ip']}" if data["last_ip"] else "")
    )
    action = data["action"]
    if action:
        label = "Current action" if data["action_active"] else "Last action"
        version = action["software"]["version"]
        out.append(f"{label}: {action['id']} {action['status']} ({version}, {action['reason']})")
        for entry in action["log"]:
            outcome = f"{entry['execution']}/{entry['finished']}"
            details = "; ".join(entry["details"])
            out.append(f"  {entry['time']} {entry['source']} {outcome} {details}".rstrip())
    else:
        out.append("No update so far.")
    return "\n".join(out)
