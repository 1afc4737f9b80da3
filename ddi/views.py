"""hawkBit DDI v1 endpoints under /<tenant>/controller/v1/<controllerId> (ddi.md §1).

Each view is thin: the ``ddi_view`` decorator does what every endpoint shares (method check,
tenant, controller id, content negotiation, authentication, error mapping) and the rules live in
devices.services and rollouts.services.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from ddi import serializers
from ddi.authentication import Credentials, authenticate
from ddi.bodies import BodyTooLarge, read_body
from devices import selectors as device_selectors
from devices import services as device_services
from devices.models import Device
from devices.services import InvalidAttributes
from goosebit_project.lib.addresses import request_address
from goosebit_project.lib.errors import DomainError, InvalidInput, NotFound
from rollouts import options as deployment_options
from rollouts import services as rollout_services
from rollouts.models import Action, ActionStatus
from rollouts.services import LogQuotaExceeded
from software import selectors as software_selectors
from software.downloads import serve_artifact, serve_md5sum

MAX_CONTROLLER_ID_LENGTH = 256
HAL_JSON = "application/hal+json"
JSON = "application/json"

# hawkBit's error codes (ddi.md §1.1), by HTTP status: (exceptionClass, errorCode).
_HAWKBIT = "org.eclipse.hawkbit."
_ERROR_CODES = {
    400: (
        _HAWKBIT + "rest.exception.MessageNotReadableException",
        "hawkbit.server.error.rest.body.notReadable",
    ),
    404: (
        _HAWKBIT + "repository.exception.EntityNotFoundException",
        "hawkbit.server.error.repo.entityNotFound",
    ),
    405: (
        _HAWKBIT + "repository.exception.CancelActionNotAllowedException",
        "hawkbit.server.error.action.notcancelable",
    ),
    409: (
        _HAWKBIT + "repository.exception.AutoConfirmationAlreadyActiveException",
        "hawkbit.server.error.repo.autoConfAlreadyActive",
    ),
    410: (
        _HAWKBIT + "repository.exception.EntityAlreadyClosedException",
        "hawkbit.server.error.repo.entityAlreadyClosed",
    ),
    415: (
        "org.springframework.web.HttpMediaTypeNotSupportedException",
        "hawkbit.server.error.rest.contentType.notSupported",
    ),
    429: (
        _HAWKBIT + "repository.exception.AssignmentQuotaExceededException",
        "hawkbit.server.error.quota.tooManyEntries",
    ),
}

_INVALID_ATTRIBUTES = (
    _HAWKBIT + "repository.exception.InvalidTargetAttributeException",
    "hawkbit.server.error.repo.invalidTargetAttributes",
)
# Errors whose hawkBit code depends on the kind of error, not only on its HTTP status.
_ERRORS_BY_TYPE: tuple[tuple[type[DomainError], tuple[str, str]], ...] = (
    (InvalidAttributes, _INVALID_ATTRIBUTES),
    (
        BodyTooLarge,
        (
            _HAWKBIT + "repository.exception.FileSizeQuotaExceededException",
            "hawkbit.server.error.quota.fileSizeExceeded",
        ),
    ),
    (
        LogQuotaExceeded,
        (
            _HAWKBIT + "repository.exception.StorageQuotaExceededException",
            "hawkbit.server.error.quota.storageExceeded",
        ),
    ),
)


@dataclass
class DdiContext:
    tenant: str
    controller_id: str
    device: Device | None
    credentials: Credentials
    content_type: str

    @property
    def base(self) -> str:
        """The device's own URL prefix, echoing the tenant exactly as the device wrote it."""
        return f"/{self.tenant}/controller/v1/{quote(self.controller_id, safe='')}"


def _empty(status: int) -> HttpResponse:
    response = HttpResponse(b"", status=status)
    response["Content-Length"] = "0"
    del response["Content-Type"]
    return response


def _error(status: int, message: str, *, hawkbit_error: tuple[str, str] | None = None) -> HttpResponse:
    exception_class, error_code = hawkbit_error or _ERROR_CODES.get(status, ("", ""))
    body = json.dumps({"exceptionClass": exception_class, "errorCode": error_code, "message": message})
    response = HttpResponse(body.encode(), status=status, content_type=JSON)
    response["Content-Length"] = str(len(response.content))
    return response


def _json(request: HttpRequest, ctx: DdiContext, payload: Any) -> HttpResponse:
    body = json.dumps(payload, separators=(",", ":")).encode()
    # hawkBit's ShallowEtagHeaderFilter: a strong ETag over the body, 304 when it matches.
    etag = f'"{hashlib.md5(body).hexdigest()}"'
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH", "")
    if if_none_match and (
        if_none_match.strip() == "*" or etag in [t.strip() for t in if_none_match.split(",")]
    ):
        response = _empty(304)
        response["ETag"] = etag
        return response
    response = HttpResponse(body, content_type=ctx.content_type)
    response["Content-Length"] = str(len(body))
    response["ETag"] = etag
    return response


def _negotiate(request: HttpRequest) -> str | None:
    """HAL-shaped JSON for every JSON-ish Accept (ddi.md §8); None → 406."""
    accept = request.META.get("HTTP_ACCEPT", "").strip()
    if not accept:
        return HAL_JSON
    media_types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    if JSON in media_types:
        return JSON
    if media_types & {HAL_JSON, "*/*", "application/*"}:
        return HAL_JSON
    return None


def _has_json_body(request: HttpRequest) -> bool:
    content_type: str = request.META.get("CONTENT_TYPE", "")
    return content_type.split(";")[0].strip().lower() == JSON


def ddi_view(
    *methods: str, negotiate: bool = True
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, tenant: str, controller_id: str, **kwargs: Any) -> HttpResponseBase:
            if request.method not in allowed:
                response = _empty(405)
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            if tenant.upper() not in {name.upper() for name in settings.GOOSEBIT_TENANTS}:
                return _empty(404)
            if len(controller_id) > MAX_CONTROLLER_ID_LENGTH:
                return _error(400, f"controllerId is longer than {MAX_CONTROLLER_ID_LENGTH} characters")
            if not controller_id.isprintable():
                return _error(400, "controllerId must not contain control characters")
            content_type = JSON
            if negotiate:
                negotiated = _negotiate(request)
                if negotiated is None:
                    return _empty(406)
                content_type = negotiated
            device = device_selectors.device_for_poll(controller_id=controller_id)
            credentials = authenticate(request, controller_id=controller_id, device=device)
            if credentials is None:
                return _empty(401)
            ctx = DdiContext(tenant, controller_id, device, credentials, content_type)
            try:
                token = credentials.token_to_store
                if (
                    device is not None
                    and token
                    and not device_services.device_claim_token(device=device, token=token)
                ):
                    return _empty(401)
                return view(request, ctx, **kwargs)
            except DomainError as error:
                hawkbit_error = next(
                    (codes for kind, codes in _ERRORS_BY_TYPE if isinstance(error, kind)), None
                )
                return _error(error.status_code, error.message, hawkbit_error=hawkbit_error)

        return wrapper

    return decorator


def _client_ip(request: HttpRequest) -> str | None:
    return request_address(request.META, behind_proxy=settings.GOOSEBIT_BEHIND_PROXY)


def _require_device(ctx: DdiContext) -> Device:
    if ctx.device is None:
        raise NotFound(f"device {ctx.controller_id} is not registered")
    return ctx.device


def _device_action(ctx: DdiContext, action_id: int) -> Action:
    device = _require_device(ctx)
    action = Action.objects.select_related("software").filter(pk=action_id, device=device).first()
    if action is None:
        raise NotFound(f"action {action_id} does not exist for device {ctx.controller_id}")
    action.device = device
    return action


def _device_or_register(request: HttpRequest, ctx: DdiContext) -> Device | None:
    """The polling device, registered when unknown (plug and play); None → answer 401."""
    device = ctx.device
    if device is None:
        if not ctx.credentials.may_register:
            return None
        token = ctx.credentials.token_to_store
        device = device_services.device_register(controller_id=ctx.controller_id, token=token)
        # A racing first poll may have registered the device: its token, if any, won.
        if token and not device_services.device_claim_token(device=device, token=token):
            return None
    device_services.device_record_poll(device=device, ip=_client_ip(request))
    return device


@ddi_view("GET")
def root(request: HttpRequest, ctx: DdiContext) -> HttpResponse:
    device = _device_or_register(request, ctx)
    if device is None:
        return _empty(401)
    action = rollout_services.device_reconcile(device=device)

    links: dict[str, dict[str, str]] = {}
    # Only polls with something to link pay for building the absolute base URL.
    needs_links = action is not None or device.installed_action_id or device.request_attributes
    base = request.build_absolute_uri(ctx.base) if needs_links else ""
    if action is not None and action.status == Action.Status.CANCELING:
        links["cancelAction"] = {"href": f"{base}/cancelAction/{action.pk}"}
    elif action is not None and action.status == Action.Status.WAIT_FOR_CONFIRMATION:
        c = serializers.deployment_c(action)
        links["confirmationBase"] = {"href": f"{base}/confirmationBase/{action.pk}?c={c}"}
    elif action is not None:
        c = serializers.deployment_c(action)
        links["deploymentBase"] = {"href": f"{base}/deploymentBase/{action.pk}?c={c}"}
    if device.installed_action_id:
        links["installedBase"] = {"href": f"{base}/installedBase/{device.installed_action_id}"}
    if device.request_attributes:
        links["configData"] = {"href": f"{base}/configData"}
    # A device that never said who it is polls faster, so registration completes quickly.
    registering = device.request_attributes and device.hardware_id is None
    if registering:
        sleep = settings.GOOSEBIT_POLL_TIME_REGISTRATION
    else:
        tenant = device_selectors.tenant_config()
        # A device waiting for a maintenance window polls more often as the window nears.
        sleep = deployment_options.polling_time(
            action, default=tenant.polling_time, poll_count=tenant.maintenance_window_poll_count
        )
    payload: dict[str, Any] = {"config": {"polling": {"sleep": sleep}}}
    if links:
        payload["_links"] = links
    return _json(request, ctx, payload)


def _body(request: HttpRequest) -> bytes:
    return read_body(request, limit=settings.GOOSEBIT_DDI_MAX_BODY_BYTES)


@ddi_view("PUT")
def config_data(request: HttpRequest, ctx: DdiContext) -> HttpResponse:
    if not _has_json_body(request):
        return _error(415, "configData must be sent as application/json")
    attributes, mode = serializers.parse_config_data(_body(request))
    rollout_services.device_report_attributes(device=_require_device(ctx), data=attributes, mode=mode)
    return _empty(200)


def _mark_retrieved(action: Action, channel: str) -> None:
    """hawkBit logs RETRIEVED once per retrieval streak; retrieving a deployment starts it."""
    newest = action.statuses.order_by("-id").values_list("execution", flat=True).first()
    if newest != ActionStatus.Execution.RETRIEVED:
        ActionStatus.objects.create(
            action=action,
            source=ActionStatus.Source.SERVER,
            channel=channel,
            execution=ActionStatus.Execution.RETRIEVED,
            details=[rollout_services.SERVER_PREFIX + "device retrieved the action"],
        )
    if channel == ActionStatus.Channel.DEPLOYMENT:
        rollout_services.action_mark_started(action=action)


@ddi_view("GET")
def deployment_base(request: HttpRequest, ctx: DdiContext, action_id: int) -> HttpResponse:
    action = _device_action(ctx, action_id)
    if action.status in (Action.Status.CANCELING, Action.Status.CANCELED):
        raise NotFound(f"action {action_id} is being canceled")
    if action.status == Action.Status.WAIT_FOR_CONFIRMATION:
        raise NotFound(f"action {action_id} is waiting for confirmation")
    history = serializers.action_history(action, request.GET.get("actionHistory"))
    if action.is_active and request.method == "GET":
        _mark_retrieved(action, ActionStatus.Channel.DEPLOYMENT)
    base = request.build_absolute_uri(ctx.base)
    return _json(request, ctx, serializers.deployment(action, base=base, history=history))


@ddi_view("GET")
def installed_base(request: HttpRequest, ctx: DdiContext, action_id: int) -> HttpResponse:
    action = _device_action(ctx, action_id)
    if action.status != Action.Status.FINISHED:
        raise NotFound(f"action {action_id} is not an installed update")
    history = serializers.action_history(action, request.GET.get("actionHistory"))
    base = request.build_absolute_uri(ctx.base)
    return _json(request, ctx, serializers.deployment(action, base=base, history=history))


@ddi_view("GET")
def cancel_action(request: HttpRequest, ctx: DdiContext, action_id: int) -> HttpResponse:
    action = _device_action(ctx, action_id)
    if action.status != Action.Status.CANCELING:
        raise NotFound(f"action {action_id} is not being canceled")
    if request.method == "GET":
        _mark_retrieved(action, ActionStatus.Channel.CANCEL)
    return _json(request, ctx, {"id": str(action.pk), "cancelAction": {"stopId": str(action.pk)}})


def _feedback(request: HttpRequest, ctx: DdiContext, action_id: int, channel: str) -> HttpResponse:
    if not _has_json_body(request):
        return _error(415, "feedback must be sent as application/json")
    feedback = serializers.parse_feedback(_body(request))
    action = _device_action(ctx, action_id)
    rollout_services.action_record_feedback(action=action, channel=channel, feedback=feedback)
    return _empty(200)


@ddi_view("POST")
def deployment_feedback(request: HttpRequest, ctx: DdiContext, action_id: int) -> HttpResponse:
    return _feedback(request, ctx, action_id, ActionStatus.Channel.DEPLOYMENT)


@ddi_view("POST")
def cancel_feedback(request: HttpRequest, ctx: DdiContext, action_id: int) -> HttpResponse:
    return _feedback(request, ctx, action_id, ActionStatus.Channel.CANCEL)


# --- confirmation (hawkBit's user-consent flow, ddi.md §1.8) ----------------------------------


@ddi_view("GET")
def confirmation_base(request: HttpRequest, ctx: DdiContext) -> HttpResponse:
    """The device's auto-confirm state, the link to switch it, and its waiting action if any."""
    device = _device_or_register(request, ctx)
    if device is None:
        return _empty(401)
    base = request.build_absolute_uri(ctx.base) + "/confirmationBase"
    links: dict[str, dict[str, str]] = {}
    if device.auto_confirm:
        links["deactivateAutoConfirm"] = {"href": f"{base}/deactivateAutoConfirm"}
    else:
        links["activateAutoConfirm"] = {"href": f"{base}/activateAutoConfirm"}
    waiting = (
        Action.objects.filter(device=device, status=Action.Status.WAIT_FOR_CONFIRMATION)
        .order_by("id")
        .first()
    )
    if waiting is not None:
        c = serializers.deployment_c(waiting)
        links["confirmationBase"] = {"href": f"{base}/{waiting.pk}?c={c}"}
    payload = {"autoConfirm": serializers.auto_confirm_state(device), "_links": links}
    return _json(request, ctx, payload)


@ddi_view("GET")
def confirmation_action(request: HttpRequest, ctx: DdiContext, action_id: int) -> HttpResponse:
    """What the device is asked to confirm: the deployment, under ``confirmation``."""
    action = _device_action(ctx, action_id)
    if action.status != Action.Status.WAIT_FOR_CONFIRMATION:
        raise NotFound(f"action {action_id} is not waiting for confirmation")
    history = serializers.action_history(action, request.GET.get("actionHistory"))
    base = request.build_absolute_uri(ctx.base)
    return _json(request, ctx, serializers.deployment(action, base=base, history=history, key="confirmation"))


@ddi_view("POST")
def confirmation_feedback(request: HttpRequest, ctx: DdiContext, action_id: int) -> HttpResponse:
    if not _has_json_body(request):
        return _error(415, "confirmation feedback must be sent as application/json")
    feedback = serializers.parse_confirmation_feedback(_body(request))
    action = _device_action(ctx, action_id)
    rollout_services.action_record_confirmation(action=action, feedback=feedback)
    return _empty(200)


@ddi_view("POST")
def activate_auto_confirm(request: HttpRequest, ctx: DdiContext) -> HttpResponse:
    """Optional body {"initiator", "remark"}; without one the remark is hawkBit's default text."""
    body = _body(request)
    initiator: str | None = None
    remark: str | None = rollout_services.AUTO_CONFIRM_FALLBACK_REMARK
    if body.strip():
        if not _has_json_body(request):
            return _error(415, "activateAutoConfirm takes an application/json body (or none)")
        initiator, remark = serializers.parse_activate_auto_confirm(body)
    try:
        rollout_services.device_activate_auto_confirm(
            device=_require_device(ctx), initiator=initiator, remark=remark
        )
    except InvalidInput as error:
        raise serializers.BodyNotReadable(error.message) from None
    return _empty(200)


@ddi_view("POST")
def deactivate_auto_confirm(request: HttpRequest, ctx: DdiContext) -> HttpResponse:
    rollout_services.device_deactivate_auto_confirm(device=_require_device(ctx))
    return _empty(200)


def _accessible_action(ctx: DdiContext, module_id: int) -> Action:
    """The device's action whose release holds this module and lets it read the artifacts.

    Its current (not canceling) action, or its installed one (ddi.md §1.9); anything else is 404,
    so devices cannot fetch packages meant for others.
    """
    device = _require_device(ctx)
    # hawkBit lets a device read the artifacts of an update it is asked to confirm, too.
    allowed = Q(
        status__in=[Action.Status.PENDING, Action.Status.WAIT_FOR_CONFIRMATION, Action.Status.RUNNING]
    )
    if device.installed_action_id:
        allowed |= Q(pk=device.installed_action_id)
    action = (
        Action.objects.filter(allowed, device=device, software__modules=module_id).order_by("-id").first()
    )
    if action is None:
        raise NotFound(f"software module {module_id} is not assigned to {ctx.controller_id}")
    return action


@ddi_view("GET")
def artifacts(request: HttpRequest, ctx: DdiContext, module_id: int) -> HttpResponse:
    _accessible_action(ctx, module_id)
    base = request.build_absolute_uri(ctx.base)
    items = software_selectors.module_artifacts(module_id=module_id)
    return _json(request, ctx, [serializers.artifact(item, base=base) for item in items])


@ddi_view("GET", negotiate=False)
def artifact_download(
    request: HttpRequest, ctx: DdiContext, module_id: int, filename: str
) -> HttpResponseBase:
    action = _accessible_action(ctx, module_id)
    item = software_selectors.module_artifact(module_id=module_id, filename=filename)
    if item is not None:
        if request.method == "GET" and "HTTP_RANGE" not in request.META and action.is_active:
            # Whole-file downloads are logged; range requests are not (RAUC streaming sends many).
            ActionStatus.objects.create(
                action=action,
                source=ActionStatus.Source.SERVER,
                execution=ActionStatus.Execution.DOWNLOAD,
                details=[rollout_services.SERVER_PREFIX + f"device downloads {item.filename}"],
            )
        return serve_artifact(request, item)
    if filename.endswith(".MD5SUM"):
        item = software_selectors.module_artifact(module_id=module_id, filename=filename[: -len(".MD5SUM")])
        if item is not None:
            return serve_md5sum(request, item)
    raise NotFound(f"software module {module_id} has no artifact {filename!r}")
