"""Helpers for the DDI tests: URL and body builders, request shortcuts, state set-up.

State is built with the factories and the ORM so that each test reads as "given this fleet, the
device sees this"; the update-decision tests use the services instead, because those are what
they test.
"""

from __future__ import annotations

import hashlib
import json

from django.test import Client
from django.utils import timezone

from devices.models import Device
from rollouts.models import Action
from software.models import Software
from tests.factories import make_action, make_device

BASE = "http://testserver"

# What a device that has already sent configData told us; such a device gets the normal sleep.
KNOWN_ATTRIBUTES = {"hw_boardname": "board", "hw_revision": "1"}

_DEVICE_STATE_FOR_ACTION: dict[str, str] = {
    Action.Status.PENDING: Device.State.PENDING,
    Action.Status.RUNNING: Device.State.RUNNING,
    Action.Status.CANCELING: Device.State.CANCELING,
    Action.Status.ERROR: Device.State.ERROR,
}


def ddi_url(cid: str, *parts: object, tenant: str = "DEFAULT") -> str:
    """The path of a DDI resource, as a device builds it."""
    return "/".join([f"/{tenant}/controller/v1/{cid}", *(str(part) for part in parts)])


def abs_url(cid: str, *parts: object, tenant: str = "DEFAULT") -> str:
    """The absolute href the server hands out for a DDI resource (request host: testserver)."""
    return BASE + ddi_url(cid, *parts, tenant=tenant)


def feedback_body(
    execution: str,
    finished: str,
    details: list[str] | None = None,
    progress: dict | None = None,
) -> dict:
    result: dict = {"finished": finished}
    if progress is not None:
        result["progress"] = progress
    status: dict = {"execution": execution, "result": result}
    if details is not None:
        status["details"] = details
    return {"status": status}


def send_json(
    client: Client,
    method: str,
    url: str,
    body: object,
    *,
    content_type: str = "application/json",
    **headers,
):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    # generic() sends the body whatever the method (SWUpdate sends a Content-Type even on GET).
    return client.generic(method.upper(), url, data=data, content_type=content_type, **headers)


def post_feedback(
    client: Client,
    cid: str,
    action_id: int,
    body: dict | str | bytes,
    *,
    channel: str = "deploymentBase",
    **h,
):
    return send_json(client, "post", ddi_url(cid, channel, action_id, "feedback"), body, **h)


def put_config(client: Client, cid: str, body: object, **headers):
    return send_json(client, "put", ddi_url(cid, "configData"), body, **headers)


def poll(client: Client, cid: str, *, tenant: str = "DEFAULT", **headers) -> dict:
    """GET the root resource and return its JSON, failing the test on anything but 200."""
    response = client.get(ddi_url(cid, tenant=tenant), **headers)
    assert response.status_code == 200, (response.status_code, response.content)
    return response.json()


def links_of(client: Client, cid: str, **headers) -> dict:
    return poll(client, cid, **headers).get("_links", {})


def etag_of(content: bytes) -> str:
    return '"' + hashlib.md5(content).hexdigest() + '"'


def media_type(response) -> str:
    return response["Content-Type"].split(";")[0].strip()


def content_of(response) -> bytes:
    """The body of a plain or streaming response.

    Consuming the test client's streaming_content closes the response (and its file) the way a
    WSGI server would; closing it again would fire request_finished a second time and drop the
    test's database connection on PostgreSQL.
    """
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def known_device(controller_id: str | None = None, **fields) -> Device:
    """A registered device that has already sent configData (so it gets the normal sleep)."""
    fields.setdefault("attributes", dict(KNOWN_ATTRIBUTES))
    return make_device(controller_id, **fields)


def start_action(device: Device, software: Software, *, status: str = Action.Status.PENDING) -> Action:
    """An active action for ``software``, consistent with the device's target (assigned mode)."""
    device.update_mode = Device.UpdateMode.ASSIGNED
    device.assigned_software = software
    device.state = _DEVICE_STATE_FOR_ACTION.get(status, device.state)
    device.save()
    return make_action(device, software, status=status, reason=Action.Reason.ASSIGNED)


def install(device: Device, software: Software) -> Action:
    """The device runs ``software``, installed by a finished action; nothing more to do."""
    device.update_mode = Device.UpdateMode.ASSIGNED
    device.assigned_software = software
    device.sw_version = software.version
    device.state = Device.State.FINISHED
    action = make_action(
        device,
        software,
        status=Action.Status.FINISHED,
        reason=Action.Reason.ASSIGNED,
        finished_at=timezone.now(),
    )
    # What a closed+success feedback records: the action that installed what the device runs.
    device.installed_action = action
    device.save()
    return action


def artifact_json(cid: str, software: Software, *, tenant: str = "DEFAULT") -> dict:
    """The chunk artifact of a package release (``software.package``)."""
    package = software.package
    assert package is not None
    href = abs_url(cid, "softwaremodules", package.module_id, "artifacts", package.filename, tenant=tenant)
    return {
        "filename": package.filename,
        "hashes": {"sha1": package.sha1, "md5": package.md5, "sha256": package.sha256},
        "size": package.size,
        "_links": {
            "download": {"href": href},
            "download-http": {"href": href},
            "md5sum": {"href": href + ".MD5SUM"},
            "md5sum-http": {"href": href + ".MD5SUM"},
        },
    }


def deployment_json(action: Action, *, history: dict | None = None, tenant: str = "DEFAULT") -> dict:
    software = action.software
    body: dict = {
        "id": str(action.pk),
        "deployment": {
            "download": "forced",
            "update": "forced",
            "chunks": [
                {
                    "part": "os",
                    "version": software.version,
                    "name": software.package.module.name,
                    "artifacts": [artifact_json(action.device.controller_id, software, tenant=tenant)],
                }
            ],
        },
    }
    if history is not None:
        body["actionHistory"] = history
    return body


def deployment_href_matches(href: str, cid: str, action_id: int, *, tenant: str = "DEFAULT") -> bool:
    prefix = abs_url(cid, "deploymentBase", action_id, tenant=tenant) + "?c="
    if not href.startswith(prefix):
        return False
    value = href[len(prefix) :]
    return value.lstrip("-").isdigit()


def active_action(device: Device) -> Action | None:
    return Action.objects.filter(device=device, status__in=Action.ACTIVE_STATUSES).first()
