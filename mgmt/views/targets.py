"""``/rest/v1/targets``: hawkBit's targets are our devices, addressed by their controller id.

A target's JSON is hawkBit's MgmtTarget. What we do not have is left out (hawkBit's models are
NON_NULL): createdBy/lastModifiedBy, group, target types. ``updateStatus`` is hawkBit's five
words read from the device's state; ``securityToken`` is shown only to callers holding
READ_TARGET_SECURITY_TOKEN. ``attributes`` are what the device sent (configData); ``metadata``
are the operators' own key/value notes (devices.DeviceMetadata), which the device never sees.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.db import transaction
from django.db.models import Case, CharField, QuerySet, Value, When
from django.utils.cache import add_never_cache_headers
from rest_framework.request import Request
from rest_framework.response import Response

from devices import selectors as device_selectors
from devices import services as device_services
from devices.models import Device, DeviceMetadata
from goosebit_project.lib import rsql
from goosebit_project.lib.errors import Conflict, InvalidInput, NotFound
from mgmt import errors, permissions
from mgmt.paging import paged_response
from mgmt.views.base import MgmtView, link, millis, without_none
from rollouts import selectors as rollout_selectors
from rollouts import services as rollout_services

# hawkBit's TargetUpdateStatus, read from our device state. An update under way (waiting, its
# consent pending, installing or being canceled) is hawkBit's "pending"; a rollback counts as an
# error, since the device no longer runs what it was updated to.
UPDATE_STATUS: dict[str, str] = {
    Device.State.UNKNOWN: "unknown",
    Device.State.REGISTERED: "registered",
    Device.State.PENDING: "pending",
    Device.State.WAIT_FOR_CONFIRMATION: "pending",
    Device.State.RUNNING: "pending",
    Device.State.CANCELING: "pending",
    Device.State.FINISHED: "in_sync",
    Device.State.ERROR: "error",
    Device.State.ROLLED_BACK: "error",
}
UPDATE_STATUS_WORDS = ("unknown", "in_sync", "pending", "error", "registered")

TARGET_SORT_FIELDS = {
    "id": "controller_id",
    "controllerId": "controller_id",
    "name": "name",
    "description": "description",
    "createdAt": "created",
    "lastModifiedAt": "updated",
    "updateStatus": "update_status",
    "address": "last_ip",
    "ipAddress": "last_ip",
    "lastControllerRequestAt": "last_seen",
    "lastTargetQuery": "last_seen",
}

TARGET_QUERY_FIELDS: dict[str, rsql.Field] = {
    "id": rsql.Field("controller_id"),
    "controllerId": rsql.Field("controller_id"),
    "name": rsql.Field("name"),
    "description": rsql.Field("description"),
    "createdAt": rsql.Field("created", type="timestamp"),
    "lastModifiedAt": rsql.Field("updated", type="timestamp"),
    "updateStatus": rsql.Field(
        "update_status", type="enum", choices={word: word for word in UPDATE_STATUS_WORDS}
    ),
    "address": rsql.Field("last_ip"),
    "ipAddress": rsql.Field("last_ip"),
    "lastControllerRequestAt": rsql.Field("last_seen", type="timestamp"),
    "lastTargetQuery": rsql.Field("last_seen", type="timestamp"),
    "assignedDS.name": rsql.Field("assigned_software__name"),
    "assignedDS.version": rsql.Field("assigned_software__version"),
    "installedDS.name": rsql.Field("installed_action__software__name"),
    "installedDS.version": rsql.Field("installed_action__software__version"),
    "attribute": rsql.Field("attributes", json_key=True),
    "metadata": rsql.Field("metadata", related_key=("metadata__key", "metadata__value")),
    # hawkBit's TargetFields.TAG: ``tag==prod`` matches the targets with a tag of that name.
    "tag": rsql.Field("tags__name"),
    "tag.name": rsql.Field("tags__name"),
}

METADATA_SORT_FIELDS = {"key": "key", "value": "value"}

MAX_CONTROLLER_ID_LENGTH = device_services.MAX_CONTROLLER_ID_LENGTH
MAX_NAME_LENGTH = 255  # Device.name (hawkBit allows 128: every hawkBit name fits)
MAX_ADDRESS_LENGTH = 512


def with_update_status(queryset: QuerySet[Device]) -> QuerySet[Device]:
    """Devices annotated with hawkBit's updateStatus word, so q= and sort= can use it."""
    return queryset.annotate(
        update_status=Case(
            *[When(state=state, then=Value(word)) for state, word in UPDATE_STATUS.items()],
            default=Value("unknown"),
            output_field=CharField(),
        )
    )


def targets_queryset() -> QuerySet[Device]:
    return with_update_status(Device.objects.select_related("installed_action"))


def device_or_404(controller_id: str) -> Device:
    device = None
    if "\x00" not in controller_id and len(controller_id) <= MAX_CONTROLLER_ID_LENGTH:
        device = targets_queryset().filter(controller_id=controller_id).first()
    if device is None:
        raise errors.not_found(f"target {controller_id[:MAX_CONTROLLER_ID_LENGTH]!r} does not exist")
    return device


def _address(device: Device) -> str | None:
    """hawkBit's address: a polling DDI target's is ``http://<its IP>`` (each poll sets it in
    hawkBit), otherwise the one an operator gave."""
    ip = device.last_ip
    if not ip:
        return device.address or None
    return f"http://[{ip}]" if ipaddress.ip_address(ip).version == 6 else f"http://{ip}"


def _poll_status(device: Device) -> dict[str, Any] | None:
    if device.last_seen is None:
        return None
    return {
        "lastRequestAt": millis(device.last_seen),
        "nextExpectedRequestAt": millis(device_selectors.next_poll_expected(device.last_seen)),
        "overdue": device_selectors.is_overdue(device.last_seen),
    }


def _security_token(device: Device) -> str | None:
    if not device.has_token:
        return None
    try:
        return device_selectors.device_token(device=device)
    except (NotFound, Conflict):
        return None  # unreadable until it is rotated: hawkBit has nothing to show either


def target_json(request: Request, device: Device, *, details: bool = False) -> dict[str, Any]:
    """hawkBit's MgmtTarget; ``details`` adds the links hawkBit gives a single target."""
    cid = device.controller_id
    installed = device.installed_action
    flow_on = rollout_selectors.confirmation_flow_enabled()
    links: dict[str, Any] = {"self": link(request, "target", cid)}
    if details:
        links["assignedDS"] = link(request, "target-assigned-ds", cid)
        links["installedDS"] = link(request, "target-installed-ds", cid)
        links["attributes"] = link(request, "target-attributes", cid)
        links["actions"] = link(request, "target-actions", cid, query="offset=0&limit=50&sort=id%3ADESC")
        links["metadata"] = link(request, "target-metadata-list", cid, query="offset=0&limit=50")
        if flow_on:
            links["autoConfirm"] = link(request, "target-auto-confirm", cid)
    body = {
        "createdAt": millis(device.created),
        "lastModifiedAt": millis(device.updated),
        "name": device.name or cid,
        "description": device.description or None,
        "controllerId": cid,
        "updateStatus": UPDATE_STATUS.get(device.state, "unknown"),
        "lastControllerRequestAt": millis(device.last_seen),
        "installedAt": millis(installed.finished_at) if installed is not None else None,
        "ipAddress": device.last_ip or None,
        "address": _address(device),
        "pollStatus": _poll_status(device),
        "securityToken": (
            _security_token(device) if permissions.holds(request.user, "READ_TARGET_SECURITY_TOKEN") else None
        ),
        "requestAttributes": device.request_attributes,
        "autoConfirmActive": device.auto_confirm if flow_on else None,
        "_links": links,
    }
    return without_none(body)


def _hide_from_caches(response: Response, request: Request) -> Response:
    if permissions.holds(request.user, "READ_TARGET_SECURITY_TOKEN"):
        add_never_cache_headers(response)  # the bodies carry device tokens
    return response


# --- reading request bodies -------------------------------------------------------------------


def optional_string(body: dict[str, Any], field: str, *, max_length: int, where: str = "") -> str | None:
    """``body[field]`` if it is a string of at most ``max_length`` characters; None when absent."""
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.bad_request(f"{where}{field} must be a string")
    if len(value) > max_length:
        raise errors.bad_request(f"{where}{field} is at most {max_length} characters, got {len(value)}")
    if "\x00" in value:
        raise errors.bad_request(f"{where}{field} must not contain NUL characters")
    return value


def optional_boolean(body: dict[str, Any], field: str, *, where: str = "") -> bool | None:
    value = body.get(field)
    if value is not None and not isinstance(value, bool):
        raise errors.bad_request(f"{where}{field} must be true or false")
    return value


def _valid_address(body: dict[str, Any], where: str) -> str | None:
    return optional_string(body, "address", max_length=MAX_ADDRESS_LENGTH, where=where)


def _token(body: dict[str, Any], where: str) -> str | None:
    token = optional_string(body, "securityToken", max_length=1000, where=where)
    if token is not None:
        try:
            return device_services.device_validate_token(token=token)
        except InvalidInput as exc:
            raise errors.bad_request(f"{where}securityToken: {exc.message}") from None
    return None


def _creation(entry: Any, index: int) -> dict[str, Any]:
    where = f"[{index}]."
    if not isinstance(entry, dict):
        raise errors.body_not_readable(f"entry {index} of the list must be a JSON object")
    controller_id = optional_string(entry, "controllerId", max_length=MAX_CONTROLLER_ID_LENGTH, where=where)
    if controller_id is None:
        raise errors.bad_request(f"{where}controllerId is required")
    try:
        device_services.device_validate_controller_id(controller_id=controller_id)
    except InvalidInput as exc:
        raise errors.bad_request(f"{where}controllerId: {exc.message}") from None
    address = _valid_address(entry, where)
    return {
        "address": address or "",
        "controller_id": controller_id,
        "name": optional_string(entry, "name", max_length=MAX_NAME_LENGTH, where=where) or "",
        "description": optional_string(
            entry, "description", max_length=device_services.MAX_DESCRIPTION_LENGTH, where=where
        )
        or "",
        "token": _token(entry, where),
    }


# --- views ------------------------------------------------------------------------------------


class TargetsView(MgmtView):
    paged = True
    required_permissions = {"GET": ["READ_TARGET"], "POST": ["CREATE_TARGET"]}

    def get(self, request: Request) -> Response:
        response = paged_response(
            request,
            targets_queryset(),
            render=lambda device: target_json(request, device),
            sort_fields=TARGET_SORT_FIELDS,
            default_sort=["controller_id"],
            query_fields=TARGET_QUERY_FIELDS,
        )
        return _hide_from_caches(response, request)

    def post(self, request: Request) -> Response:
        entries = [_creation(entry, index) for index, entry in enumerate(self.body_list(request))]
        ids = [entry["controller_id"] for entry in entries]
        repeated = sorted({cid for cid in ids if ids.count(cid) > 1})
        if repeated:
            raise errors.already_exists(f"target {repeated[0]!r} is listed more than once")
        existing = (
            Device.objects.filter(controller_id__in=ids).values_list("controller_id", flat=True).first()
        )
        if existing is not None:
            raise errors.already_exists(f"target {existing!r} exists already")
        with transaction.atomic():  # all or none, as hawkBit creates the list
            created = [
                # hawkBit generates a token for a target created without one.
                device_services.device_create(
                    controller_id=entry["controller_id"],
                    name=entry["name"],
                    description=entry["description"],
                    address=entry["address"],
                    token=entry["token"],
                    generate=entry["token"] is None,
                )
                for entry in entries
            ]
        devices = targets_queryset().filter(pk__in=[device.pk for device in created]).order_by("pk")
        response = Response([target_json(request, device) for device in devices], status=201)
        return _hide_from_caches(response, request)


class TargetView(MgmtView):
    required_permissions = {
        "GET": ["READ_TARGET"],
        "PUT": ["UPDATE_TARGET"],
        "DELETE": ["DELETE_TARGET"],
    }

    def get(self, request: Request, controller_id: str) -> Response:
        device = device_or_404(controller_id)
        return _hide_from_caches(Response(target_json(request, device, details=True)), request)

    def put(self, request: Request, controller_id: str) -> Response:
        body = self.body_object(request)
        device = device_or_404(controller_id)
        name = optional_string(body, "name", max_length=MAX_NAME_LENGTH)
        description = optional_string(body, "description", max_length=device_services.MAX_DESCRIPTION_LENGTH)
        request_attributes = optional_boolean(body, "requestAttributes")
        if request_attributes is False:
            # As hawkBit: only the device clears it, by sending its attributes.
            raise errors.bad_request("requestAttributes can only be set to true")
        address = _valid_address(body, "")
        token = _token(body, "")
        with transaction.atomic():
            device_services.device_update(
                device=device,
                name=name,
                description=description,
                request_attributes=request_attributes,
                address=address,
            )
            if token is not None:
                device_services.device_set_token(device=device, token=token)
        device = device_or_404(controller_id)
        return _hide_from_caches(Response(target_json(request, device, details=True)), request)

    def delete(self, request: Request, controller_id: str) -> Response:
        device_services.device_delete(device=device_or_404(controller_id))
        return Response(status=204)


class TargetAttributesView(MgmtView):
    required_permissions = {"GET": ["READ_TARGET"]}

    def get(self, request: Request, controller_id: str) -> Response:
        device = device_or_404(controller_id)
        if not device.attributes:
            return Response(status=204)  # as hawkBit, for a device that sent none
        return Response(device.attributes)


# --- metadata ---------------------------------------------------------------------------------


def metadata_json(entry: DeviceMetadata) -> dict[str, Any]:
    return {"key": entry.key, "value": entry.value}


def _metadata_entry(entry: Any, index: int) -> tuple[str, str]:
    where = f"[{index}]."
    if not isinstance(entry, dict):
        raise errors.body_not_readable(f"entry {index} of the list must be a JSON object")
    key = optional_string(entry, "key", max_length=device_services.MAX_METADATA_KEY_LENGTH, where=where)
    if not key:
        raise errors.bad_request(f"{where}key is required")
    value = optional_string(entry, "value", max_length=device_services.MAX_METADATA_VALUE_LENGTH, where=where)
    return key, value or ""


class TargetMetadataListView(MgmtView):
    paged = True
    required_permissions = {"GET": ["READ_TARGET"], "POST": ["UPDATE_TARGET"]}

    def get(self, request: Request, controller_id: str) -> Response:
        device = device_or_404(controller_id)
        return paged_response(
            request,
            device_selectors.device_metadata_list(device=device),
            render=metadata_json,
            sort_fields=METADATA_SORT_FIELDS,
            default_sort=["key"],
            query_fields={"key": rsql.Field("key"), "value": rsql.Field("value")},
        )

    def post(self, request: Request, controller_id: str) -> Response:
        device = device_or_404(controller_id)
        entries = [_metadata_entry(entry, index) for index, entry in enumerate(self.body_list(request))]
        created = device_services.device_metadata_create(device=device, entries=entries)
        return Response([metadata_json(entry) for entry in created], status=201)


def _metadata_key(controller_id: str, key: str) -> str:
    """A key from the path; one no key can be (NUL, too long) is simply not there."""
    if "\x00" in key or len(key) > device_services.MAX_METADATA_KEY_LENGTH:
        raise errors.not_found(f"target {controller_id!r} has no metadata {key[:40]!r}")
    return key


class TargetMetadataView(MgmtView):
    required_permissions = {"GET": ["READ_TARGET"], "PUT": ["UPDATE_TARGET"], "DELETE": ["UPDATE_TARGET"]}

    def get(self, request: Request, controller_id: str, key: str) -> Response:
        device = device_or_404(controller_id)
        key = _metadata_key(controller_id, key)
        return Response(metadata_json(device_selectors.device_metadata_get(device=device, key=key)))

    def put(self, request: Request, controller_id: str, key: str) -> Response:
        body = self.body_object(request)
        device = device_or_404(controller_id)
        if "value" not in body:
            raise errors.bad_request('send {"value": ...}')
        value = optional_string(body, "value", max_length=device_services.MAX_METADATA_VALUE_LENGTH) or ""
        entry = device_services.device_metadata_set(device=device, key=key, value=value)
        return Response(metadata_json(entry))

    def delete(self, request: Request, controller_id: str, key: str) -> Response:
        device = device_or_404(controller_id)
        device_services.device_metadata_delete(device=device, key=_metadata_key(controller_id, key))
        return Response(status=204)


# --- auto-confirm -----------------------------------------------------------------------------


def auto_confirm_json(request: Request, device: Device) -> dict[str, Any]:
    """hawkBit's MgmtTargetAutoConfirm."""
    cid = device.controller_id
    if not device.auto_confirm:
        return {"active": False, "_links": {"activate": link(request, "target-auto-confirm-activate", cid)}}
    return without_none(
        {
            "active": True,
            "initiator": device.auto_confirm_initiator or None,
            "remark": device.auto_confirm_remark or None,
            "activatedAt": millis(device.auto_confirm_activated_at),
            "_links": {"deactivate": link(request, "target-auto-confirm-deactivate", cid)},
        }
    )


class TargetAutoConfirmView(MgmtView):
    required_permissions = {"GET": ["READ_TARGET"]}

    def get(self, request: Request, controller_id: str) -> Response:
        return Response(auto_confirm_json(request, device_or_404(controller_id)))


class TargetAutoConfirmActivateView(MgmtView):
    required_permissions = {"POST": ["UPDATE_TARGET"]}

    def post(self, request: Request, controller_id: str) -> Response:
        body = request.data if request.data not in (None, "", b"") else {}
        if not isinstance(body, dict):
            raise errors.body_not_readable("the request body must be a JSON object")
        device = device_or_404(controller_id)
        rollout_services.device_activate_auto_confirm(
            device=device,
            initiator=optional_string(body, "initiator", max_length=rollout_services.MAX_INITIATOR_LENGTH),
            remark=optional_string(body, "remark", max_length=rollout_services.MAX_REMARK_LENGTH),
        )
        return Response(status=204)


class TargetAutoConfirmDeactivateView(MgmtView):
    required_permissions = {"POST": ["UPDATE_TARGET"]}

    def post(self, request: Request, controller_id: str) -> Response:
        rollout_services.device_deactivate_auto_confirm(device=device_or_404(controller_id))
        return Response(status=204)
