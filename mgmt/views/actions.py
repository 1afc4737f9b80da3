"""Actions (one attempt to bring one device to one release) and their status history.

``/rest/v1/targets/{id}/actions[/{actionId}[/status]]`` and ``/rest/v1/actions[/{id}]``. An
action's JSON is hawkBit's MgmtAction: ``status`` is hawkBit's action status in lower case,
read from ours (an action the device has not retrieved yet is "running" there, as a hawkBit
assignment is from its creation), ``type`` is "cancel" while or after it is canceled, else
"update". Each status entry is hawkBit's MgmtActionStatus; its ``type`` is read from what the
device (or the server) reported, as hawkBit's DDI resource records them.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import BooleanField, Case, CharField, QuerySet, Value, When
from rest_framework.request import Request
from rest_framework.response import Response

from goosebit_project.lib import rsql
from goosebit_project.lib.errors import Gone, NotAllowed, NotFound
from mgmt import errors
from mgmt.paging import paged_response
from mgmt.views.base import MgmtView, link, millis, without_none
from mgmt.views.targets import UPDATE_STATUS, UPDATE_STATUS_WORDS, device_or_404
from rollouts import options as deployment_options
from rollouts import services as rollout_services
from rollouts.models import Action, ActionStatus

_REPOSITORY = "org.eclipse.hawkbit.repository.exception."

ACTION_STATUS: dict[str, str] = {
    Action.Status.PENDING: "running",
    Action.Status.WAIT_FOR_CONFIRMATION: "wait_for_confirmation",
    Action.Status.RUNNING: "running",
    Action.Status.CANCELING: "canceling",
    Action.Status.CANCELED: "canceled",
    Action.Status.FINISHED: "finished",
    Action.Status.ERROR: "error",
}
ACTION_STATUS_WORDS = ("finished", "error", "running", "canceled", "canceling", "wait_for_confirmation")
CANCEL_STATUSES = (Action.Status.CANCELING, Action.Status.CANCELED)

ACTION_SORT_FIELDS = {
    "id": "id",
    "status": "hawkbit_status",
    "active": "hawkbit_active",
    "lastStatusCode": "last_code",
    "createdAt": "created",
    "lastModifiedAt": "updated",
    "weight": "weight",
}

ACTION_QUERY_FIELDS: dict[str, rsql.Field] = {
    "id": rsql.Field("id", type="number"),
    "active": rsql.Field("hawkbit_active", type="boolean"),
    "status": rsql.Field("hawkbit_status", type="enum", choices={word: word for word in ACTION_STATUS_WORDS}),
    "lastStatusCode": rsql.Field("last_code", type="number"),
    "createdAt": rsql.Field("created", type="timestamp"),
    "lastModifiedAt": rsql.Field("updated", type="timestamp"),
    "weight": rsql.Field("weight", type="number"),
    "target.controllerId": rsql.Field("device__controller_id"),
    "target.name": rsql.Field("device__name"),
    "target.updateStatus": rsql.Field(
        "target_update_status", type="enum", choices={word: word for word in UPDATE_STATUS_WORDS}
    ),
    "target.address": rsql.Field("device__last_ip"),
    "distributionSet.id": rsql.Field("software_id", type="number"),
    "distributionSet.name": rsql.Field("software__name"),
    "distributionSet.version": rsql.Field("software__version"),
    "rollout.id": rsql.Field("rollout_id", type="number"),
    "rollout.name": rsql.Field("rollout__name"),
}

STATUS_SORT_FIELDS = {"id": "id", "timestamp": "created", "reportedAt": "created", "createdAt": "created"}

MAX_ID = 2**63 - 1


def parse_id(raw: str, kind: str) -> int:
    """A path id as hawkBit's Long: anything else is a 404 naming it (never a database error)."""
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_ID:
        raise errors.not_found(f"{kind} {raw[:40]!r} does not exist")
    return int(raw)


def actions_queryset() -> QuerySet[Action]:
    """Actions annotated with hawkBit's status word and active flag, for q= and sort=."""
    return Action.objects.select_related("device", "software", "rollout").annotate(
        hawkbit_status=Case(
            *[When(status=status, then=Value(word)) for status, word in ACTION_STATUS.items()],
            default=Value("running"),
            output_field=CharField(),
        ),
        target_update_status=Case(
            *[When(device__state=state, then=Value(word)) for state, word in UPDATE_STATUS.items()],
            default=Value("unknown"),
            output_field=CharField(),
        ),
        hawkbit_active=Case(
            When(status__in=Action.ACTIVE_STATUSES, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        ),
    )


def _next_window_start(action: Action, now: datetime) -> int | None:
    window = deployment_options.MaintenanceWindow(
        action.maintenance_schedule, action.maintenance_duration, action.maintenance_timezone
    ).window_at(now)
    if window is None:
        return None
    if window.start <= now:  # open now: hawkBit names the start of the next one
        following = deployment_options.MaintenanceWindow(
            action.maintenance_schedule, action.maintenance_duration, action.maintenance_timezone
        ).window_at(window.end)
        return millis(following.start) if following is not None else None
    return millis(window.start)


def _maintenance_window(action: Action) -> dict[str, Any] | None:
    if not action.maintenance_schedule:
        return None
    return without_none(
        {
            "schedule": action.maintenance_schedule,
            "duration": action.maintenance_duration,
            "timezone": action.maintenance_timezone,
            "nextStartAt": _next_window_start(action, deployment_options.now()),
        }
    )


def action_json(request: Request, action: Action, *, full: bool = False) -> dict[str, Any]:
    """hawkBit's MgmtAction; ``full`` adds the target, distribution set, status and rollout links."""
    cid = action.device.controller_id
    links: dict[str, Any] = {"self": link(request, "target-action", cid, action.pk)}
    if full:
        if action.status in CANCEL_STATUSES:
            links["canceledaction"] = link(request, "target-action", cid, action.pk)
        links["target"] = {**link(request, "target", cid), "name": action.device.name or cid}
        software = action.software
        links["distributionset"] = {
            "href": request.build_absolute_uri(f"/rest/v1/distributionsets/{software.pk}"),
            "name": f"{software.name}:{software.version}",
        }
        links["status"] = link(
            request, "target-action-status", cid, action.pk, query="offset=0&limit=50&sort=id%3ADESC"
        )
        if action.rollout is not None:
            links["rollout"] = {
                "href": request.build_absolute_uri(f"/rest/v1/rollouts/{action.rollout.pk}"),
                "name": action.rollout.name,
            }
    body = {
        "createdAt": millis(action.created),
        "lastModifiedAt": millis(action.updated),
        "type": "cancel" if action.status in CANCEL_STATUSES else "update",
        "active": action.is_active,
        "status": ACTION_STATUS.get(action.status, "running"),
        "forceTime": millis(action.forcetime) if action.action_type == Action.ActionType.TIMEFORCED else None,
        "forceType": action.action_type,
        "weight": action.weight,
        "maintenanceWindow": _maintenance_window(action),
        "rollout": action.rollout_id,
        "rolloutName": action.rollout.name if action.rollout is not None else None,
        "lastStatusCode": action.last_code,
        "_links": links,
        "id": action.pk,
    }
    return without_none(body)


def status_type(entry: ActionStatus) -> str:
    """hawkBit's ActionStatus type for one of our log entries."""
    execution, finished = entry.execution, entry.finished
    Execution, Finished = ActionStatus.Execution, ActionStatus.Finished
    if entry.channel == ActionStatus.Channel.CANCEL:
        if execution == Execution.REJECTED or (
            execution == Execution.CLOSED and finished == Finished.FAILURE
        ):
            return "cancel_rejected"
        if execution in (Execution.CLOSED, Execution.CANCELED) or (
            execution == Execution.CANCELING and entry.source == ActionStatus.Source.SERVER
        ):
            return "canceled"
    if execution == Execution.CLOSED:
        return "error" if finished == Finished.FAILURE else "finished"
    words: dict[str, str] = {
        Execution.PROCEEDING: "running",
        Execution.RESUMED: "running",
        Execution.CONFIRMED: "running",
        Execution.CANCELED: "canceled",
        Execution.CANCELING: "canceling",
        Execution.SCHEDULED: "scheduled",
        Execution.REJECTED: "warning",
        Execution.DOWNLOADED: "downloaded",
        Execution.DOWNLOAD: "download",
        Execution.RETRIEVED: "retrieved",
        Execution.WAITING: "wait_for_confirmation",
        Execution.DENIED: "wait_for_confirmation",
    }
    return words.get(execution, "running")


def action_status_json(entry: ActionStatus) -> dict[str, Any]:
    details = entry.details if isinstance(entry.details, list) else [entry.details]
    return without_none(
        {
            "id": entry.pk,
            "type": status_type(entry),
            "messages": [item if isinstance(item, str) else str(item) for item in details],
            "reportedAt": millis(entry.created),
            "timestamp": millis(entry.created),
            "code": entry.code,
        }
    )


def device_action_or_404(controller_id: str, raw_action_id: str) -> Action:
    device = device_or_404(controller_id)
    action_id = parse_id(raw_action_id, "action")
    action = actions_queryset().filter(pk=action_id).first()
    if action is None or action.device_id != device.pk:
        raise errors.not_found(f"target {controller_id!r} has no action {action_id}")
    return action


def _reloaded(action: Action) -> Action:
    return actions_queryset().get(pk=action.pk)


class TargetActionsView(MgmtView):
    paged = True
    required_permissions = {"GET": ["READ_TARGET"]}

    def get(self, request: Request, controller_id: str) -> Response:
        device = device_or_404(controller_id)
        return paged_response(
            request,
            actions_queryset().filter(device=device),
            render=lambda action: action_json(request, action),
            sort_fields=ACTION_SORT_FIELDS,
            default_sort=["id"],
            query_fields=ACTION_QUERY_FIELDS,
        )


class TargetActionView(MgmtView):
    required_permissions = {"GET": ["READ_TARGET"], "PUT": ["UPDATE_TARGET"], "DELETE": ["UPDATE_TARGET"]}

    def get(self, request: Request, controller_id: str, action_id: str) -> Response:
        return Response(action_json(request, device_action_or_404(controller_id, action_id), full=True))

    def delete(self, request: Request, controller_id: str, action_id: str) -> Response:
        """Cancel (through the device once it started); ``?force=true`` closes a cancel it never confirms."""
        force = request.query_params.get("force", "false").strip().lower()
        if force not in ("true", "false"):
            raise errors.bad_request(f"force must be true or false, got {force[:20]!r}")
        action = device_action_or_404(controller_id, action_id)
        if force == "true":
            try:
                rollout_services.action_force_quit(action=action)
            except NotAllowed as exc:
                raise errors.MgmtError(
                    405,
                    "hawkbit.server.error.action.notForceQuitable",
                    _REPOSITORY + "ForceQuitActionNotAllowedException",
                    exc.message,
                ) from None
        else:
            rollout_services.action_cancel(action=action)  # NotAllowed: hawkBit's notCancelable, 405
        return Response(status=204)

    def put(self, request: Request, controller_id: str, action_id: str) -> Response:
        body = self.body_object(request)
        force_type = body.get("forceType")
        if force_type != Action.ActionType.FORCED:
            raise errors.bad_request(f"forceType: only a switch to 'forced' is supported, got {force_type!r}")
        action = device_action_or_404(controller_id, action_id)
        try:
            rollout_services.action_force(action=action)
        except NotAllowed as exc:
            raise errors.MgmtError(
                405,
                "hawkbit.server.error.repo.constraintViolation",
                "jakarta.validation.ConstraintViolationException",
                exc.message,
            ) from None
        return Response(action_json(request, _reloaded(action), full=True))


MAX_INT32 = 2**31 - 1
MAX_DETAIL_LENGTH = 1024


def _confirmation(body: dict[str, Any]) -> rollout_services.ConfirmationFeedback:
    """hawkBit's MgmtActionConfirmationRequestBodyPut: confirmation (required), code, details."""
    confirmation = body.get("confirmation")
    if confirmation not in ("confirmed", "denied"):
        raise errors.bad_request(f"confirmation must be confirmed or denied, got {str(confirmation)[:40]!r}")
    code = body.get("code")
    if code is not None and (isinstance(code, bool) or not isinstance(code, int) or abs(code) > MAX_INT32):
        raise errors.bad_request("code must be a whole number (32 bits)")
    details = body.get("details") or []
    limit = settings.GOOSEBIT_DDI_MAX_DETAILS_PER_FEEDBACK
    if not isinstance(details, list) or not all(isinstance(item, str) for item in details):
        raise errors.bad_request("details must be a list of strings")
    if len(details) > limit or any(len(item) > MAX_DETAIL_LENGTH or "\x00" in item for item in details):
        raise errors.bad_request(f"details holds at most {limit} lines of {MAX_DETAIL_LENGTH} characters")
    return rollout_services.ConfirmationFeedback(
        confirmed=confirmation == "confirmed", code=code, details=details
    )


class TargetActionConfirmationView(MgmtView):
    """An operator confirms or denies an update in the device's name (the user-consent flow)."""

    required_permissions = {"PUT": ["UPDATE_TARGET"]}

    def put(self, request: Request, controller_id: str, action_id: str) -> Response:
        feedback = dataclasses.replace(
            _confirmation(self.body_object(request)), by=request.user.get_username()
        )
        action = device_action_or_404(controller_id, action_id)
        try:
            rollout_services.action_record_confirmation(action=action, feedback=feedback)
        except Gone as exc:  # as hawkBit: a closed action answers 410, one not waiting 404
            return Response({"message": exc.message}, status=410)
        except NotFound as exc:
            raise errors.not_found(exc.message) from None
        return Response(status=204)


class TargetActionStatusView(MgmtView):
    paged = True
    required_permissions = {"GET": ["READ_TARGET"]}

    def get(self, request: Request, controller_id: str, action_id: str) -> Response:
        action = device_action_or_404(controller_id, action_id)
        return paged_response(
            request,
            ActionStatus.objects.filter(action=action),
            render=action_status_json,
            sort_fields=STATUS_SORT_FIELDS,
            default_sort=["-id"],
        )


class ActionsView(MgmtView):
    paged = True
    required_permissions = {"GET": ["READ_TARGET"]}

    def get(self, request: Request) -> Response:
        # hawkBit answers an unknown representation with the compact one rather than a 400.
        full = request.query_params.get("representation", "compact").strip().lower() == "full"
        return paged_response(
            request,
            actions_queryset(),
            render=lambda action: action_json(request, action, full=full),
            sort_fields=ACTION_SORT_FIELDS,
            default_sort=["id"],
            query_fields=ACTION_QUERY_FIELDS,
        )


class ActionView(MgmtView):
    required_permissions = {"GET": ["READ_TARGET"]}

    def get(self, request: Request, action_id: str) -> Response:
        action = actions_queryset().filter(pk=parse_id(action_id, "action")).first()
        if action is None:
            raise errors.not_found(f"action {action_id!r} does not exist")
        return Response(action_json(request, action, full=True))
