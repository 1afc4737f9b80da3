"""``/rest/v1/rollouts``: hawkBit's rollouts and their deployment groups on our staged rollouts.

The JSON is hawkBit's MgmtRolloutResponseBody / MgmtRolloutGroupResponseBody. hawkBit's
``targetFilterQuery`` is our rollout's device query (of any feed); its groups' success and error
conditions (``THRESHOLD`` with a percent) are our groups' success and error thresholds. Our draft
is hawkBit's ``ready``. Every rule is rollouts.services'; a refused transition is hawkBit's
``RolloutIllegalStateException`` (400).

The statistics come from rollouts.selectors.rollout_group_stats: one query per rollout body
(and one for its groups), whatever the fleet size. The list answers hawkBit's ``compact``
representation by default (no statistics: a fixed number of queries per page);
``representation=full`` adds them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from goosebit_project.lib import errors as domain
from goosebit_project.lib import rsql
from mgmt import errors
from mgmt.paging import paged_response
from mgmt.views.actions import parse_id
from mgmt.views.assignments import MAX_FORCETIME, Assignment, software_or_404
from mgmt.views.base import MgmtView, link, millis, without_none
from mgmt.views.targets import TARGET_SORT_FIELDS, optional_boolean, optional_string, target_json
from rollouts import selectors as rollout_selectors
from rollouts import services as rollout_services
from rollouts.models import Rollout, RolloutGroup
from rollouts.selectors.device_queries import device_query_compile
from rollouts.services.groups import GroupSpec, InvalidSetting

_REPOSITORY = "org.eclipse.hawkbit.repository.exception."

illegal_state = errors._Kind(
    400, "hawkbit.server.error.rollout.illegalstate", _REPOSITORY + "RolloutIllegalStateException"
)

# Our statuses in hawkBit's words (its RolloutStatus, lower case as its REST API writes them).
ROLLOUT_STATUS = {
    Rollout.Status.WAITING_FOR_APPROVAL: "waiting_for_approval",
    Rollout.Status.APPROVAL_DENIED: "approval_denied",
    Rollout.Status.DRAFT: "ready",
    Rollout.Status.RUNNING: "running",
    Rollout.Status.PAUSED: "paused",
    Rollout.Status.STOPPED: "stopped",
    Rollout.Status.FINISHED: "finished",
}
UNSTARTED = (Rollout.Status.WAITING_FOR_APPROVAL, Rollout.Status.APPROVAL_DENIED, Rollout.Status.DRAFT)
SUCCESS_ACTIONS = {
    "NEXTGROUP": RolloutGroup.SuccessAction.NEXT_GROUP,
    "PAUSE": RolloutGroup.SuccessAction.PAUSE,
}
# hawkBit's field names for the fields our services name (InvalidSetting.field).
_GROUP_FIELDS = {
    "name": "name",
    "query": "targetFilterQuery",
    "target_count": "targetPercentage",
    "target_percentage": "targetPercentage",
    "success_threshold": "successCondition.expression",
    "success_action": "successAction.action",
    "error_threshold": "errorCondition.expression",
    "confirmation_required": "confirmationRequired",
    "description": "description",
}
_ROLLOUT_FIELDS = {
    "start_at": "startAt",
    "description": "description",
    "name": "name",
    "amountGroups": "amountGroups",
}

ROLLOUT_SORT_FIELDS = {
    "id": "id",
    "name": "name",
    "description": "description",
    "status": "status",
    "createdAt": "created",
    "lastModifiedAt": "updated",
    "createdBy": "created_by__username",
    "distributionSet.id": "software__id",
    "distributionSet.name": "software__name",
    "distributionSet.version": "software__version",
}
ROLLOUT_QUERY_FIELDS: dict[str, rsql.Field] = {
    "id": rsql.Field("id", type="number"),
    "name": rsql.Field("name"),
    "description": rsql.Field("description"),
    "status": rsql.Field("status", type="enum", choices={word: db for db, word in ROLLOUT_STATUS.items()}),
    "createdAt": rsql.Field("created", type="timestamp"),
    "lastModifiedAt": rsql.Field("updated", type="timestamp"),
    "createdBy": rsql.Field("created_by__username"),
    "distributionSet.id": rsql.Field("software__id", type="number"),
    "distributionSet.name": rsql.Field("software__name"),
    "distributionSet.version": rsql.Field("software__version"),
}
GROUP_SORT_FIELDS = {"id": "id", "name": "name", "description": "description", "status": "status"}


# --- reading ----------------------------------------------------------------------------------


def _rollouts() -> QuerySet[Rollout]:
    return Rollout.objects.select_related("software", "created_by").prefetch_related("groups")


def rollout_or_404(raw_id: str) -> Rollout:
    rollout = _rollouts().filter(pk=parse_id(raw_id, "rollout")).first()
    if rollout is None:
        raise errors.not_found(f"rollout {raw_id[:40]!r} does not exist")
    return rollout


def group_or_404(rollout: Rollout, raw_id: str) -> RolloutGroup:
    pk = parse_id(raw_id, "rollout group")
    group = next((group for group in rollout.groups.all() if group.pk == pk), None)
    if group is None:
        raise errors.not_found(f"rollout group {raw_id[:40]!r} of rollout {rollout.pk} does not exist")
    return group


def _per_status(stats: rollout_selectors.GroupStats, *, scheduled: bool) -> dict[str, int]:
    """hawkBit's TotalTargetCountStatus from one group's statistics."""
    return {
        "running": stats.pending + stats.running,
        "notstarted": 0 if scheduled else stats.not_started,
        "scheduled": stats.not_started if scheduled else 0,
        "cancelled": stats.canceled,
        "finished": stats.succeeded + stats.already_on_version,
        "error": stats.failed + stats.rolled_back,
    }


def _group_is_scheduled(rollout: Rollout, group: RolloutGroup | None) -> bool:
    return rollout.status in UNSTARTED or (
        group is not None and group.status == RolloutGroup.Status.SCHEDULED
    )


def _stats_by_position(rollout: Rollout) -> dict[Any, rollout_selectors.GroupStats]:
    # Before the start the groups' sizes are planned (two queries per group), after it frozen.
    groups = rollout_selectors.rollout_groups_frozen_or_planned(rollout)
    return rollout_selectors.rollout_group_stats(rollout=rollout, groups=groups)


def _group_status(rollout: Rollout, group: RolloutGroup) -> str:
    return "ready" if rollout.status in UNSTARTED else group.status


def _conditions(group: RolloutGroup) -> dict[str, Any]:
    action = "PAUSE" if group.success_action == RolloutGroup.SuccessAction.PAUSE else "NEXTGROUP"
    body: dict[str, Any] = {
        "successCondition": {"condition": "THRESHOLD", "expression": str(group.success_threshold)},
        "successAction": {"action": action, "expression": ""},
    }
    if group.error_threshold is not None:
        body["errorCondition"] = {"condition": "THRESHOLD", "expression": str(group.error_threshold)}
        body["errorAction"] = {"action": "PAUSE", "expression": ""}
    return body


def group_json(
    request: Request, rollout: Rollout, group: RolloutGroup, stats: rollout_selectors.GroupStats | None
) -> dict[str, Any]:
    """hawkBit's MgmtRolloutGroupResponseBody."""
    confirmation = group.confirmation_required
    body: dict[str, Any] = {
        "id": group.pk,
        "name": group.name,
        "description": group.description or None,
        "createdBy": rollout.created_by.get_username() if rollout.created_by else None,
        "createdAt": millis(rollout.created),
        "lastModifiedBy": rollout.created_by.get_username() if rollout.created_by else None,
        "lastModifiedAt": millis(group.finished_at or group.started_at or rollout.updated),
        **_conditions(group),
        "targetFilterQuery": group.query,
        "targetPercentage": group.target_percentage if group.target_count is None else None,
        "confirmationRequired": rollout.confirmation_required if confirmation is None else confirmation,
        "status": _group_status(rollout, group),
        "_links": {"self": link(request, "rollout-group", rollout.pk, group.pk)},
    }
    if group.target_percentage is None and group.target_count is None:
        body["targetPercentage"] = 100.0  # all the devices the earlier groups left
    if stats is not None:
        body["totalTargets"] = stats.targeted
        body["totalTargetsPerStatus"] = _per_status(stats, scheduled=_group_is_scheduled(rollout, group))
    return without_none(body)


def _totals(rollout: Rollout) -> tuple[int, dict[str, int]]:
    groups = {group.position: group for group in rollout.groups.all()}
    totals = dict.fromkeys(("running", "notstarted", "scheduled", "cancelled", "finished", "error"), 0)
    targeted = 0
    for position, stats in _stats_by_position(rollout).items():
        group = groups.get(position)
        targeted += stats.targeted
        for key, value in _per_status(stats, scheduled=_group_is_scheduled(rollout, group)).items():
            totals[key] += value
    return targeted, totals


def rollout_json(request: Request, rollout: Rollout, *, full: bool = True) -> dict[str, Any]:
    """hawkBit's MgmtRolloutResponseBody; ``full`` adds the statistics and every link."""
    groups = list(rollout.groups.all())
    creator = rollout.created_by.get_username() if rollout.created_by else None
    body: dict[str, Any] = {
        "id": rollout.pk,
        "name": rollout.name,
        "description": rollout.description or None,
        "createdBy": creator,
        "createdAt": millis(rollout.created),
        "lastModifiedBy": rollout.approval_decided_by or creator,
        "lastModifiedAt": millis(rollout.updated),
        "targetFilterQuery": rollout.query,
        "distributionSetId": rollout.software_id,
        "status": ROLLOUT_STATUS[Rollout.Status(rollout.status)],
        "totalGroups": len(groups),
        "startAt": millis(rollout.start_at),
        "forcetime": millis(rollout.forcetime),
        "deleted": False,
        "type": rollout.action_type,
        "weight": rollout.weight,
        "dynamic": rollout.dynamic,
        "confirmationRequired": rollout.confirmation_required,
        "approvalRemark": rollout.approval_remark or None,
        "approveDecidedBy": rollout.approval_decided_by or None,
        "_links": {"self": link(request, "rollout", rollout.pk)},
    }
    if rollout.started_at is not None:
        body["totalTargets"] = sum(group.frozen_total or 0 for group in groups)
    if full:
        body["totalTargets"], body["totalTargetsPerStatus"] = _totals(rollout)
        links = body["_links"]
        for name in ("start", "pause", "resume", "triggerNextGroup", "approve", "deny"):
            links[name] = link(request, f"rollout-{name.lower()}", rollout.pk)
        links["groups"] = link(request, "rollout-groups", rollout.pk, query="offset=0&limit=50")
        links["distributionset"] = link(request, "distributionset", rollout.software_id)
    return without_none(body)


# --- writing ----------------------------------------------------------------------------------


def _threshold(value: Any, where: str) -> int:
    """A THRESHOLD expression: a whole percent 0-100, given as hawkBit does (a string) or a number."""
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not text.isascii() or not text.isdigit() or not 0 <= int(text) <= 100:
        raise errors.bad_request(f"{where}.expression must be a whole percent from 0 to 100, got {value!r}")
    return int(text)


def _object(body: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise errors.bad_request(f"{where}{key} must be an object")
    return value


def _condition(body: dict[str, Any], key: str, where: str) -> int | None:
    condition = _object(body, key, where)
    if condition is None:
        return None
    kind = condition.get("condition", "THRESHOLD")
    if not isinstance(kind, str) or kind.upper() != "THRESHOLD":
        raise errors.bad_request(f"{where}{key}.condition must be THRESHOLD, got {kind!r}")
    return _threshold(condition.get("expression", "100"), f"{where}{key}")


def _action(body: dict[str, Any], key: str, where: str, allowed: tuple[str, ...]) -> str | None:
    action = _object(body, key, where)
    if action is None:
        return None
    name = action.get("action", allowed[0])
    if not isinstance(name, str) or name.upper() not in allowed:
        raise errors.bad_request(f"{where}{key}.action must be one of {', '.join(allowed)}, got {name!r}")
    return name.upper()


class Conditions:
    """The success and error conditions of a body (the rollout's defaults or one group's)."""

    success_threshold: int
    success_action: str
    error_threshold: int | None

    def __init__(self, body: dict[str, Any], where: str, defaults: Conditions | None = None) -> None:
        success = _condition(body, "successCondition", where)
        action = _action(body, "successAction", where, ("NEXTGROUP", "PAUSE"))
        error = _condition(body, "errorCondition", where)
        _action(body, "errorAction", where, ("PAUSE",))  # hawkBit's only error action
        if success is None:
            success = defaults.success_threshold if defaults else 100
        # hawkBit's thresholds run from 0, ours from 1: 0 and 1 % behave alike for a group.
        self.success_threshold = max(success, 1)
        if action is not None:
            self.success_action = SUCCESS_ACTIONS[action]
        else:
            self.success_action = defaults.success_action if defaults else SUCCESS_ACTIONS["NEXTGROUP"]
        if error is None:
            error = defaults.error_threshold if defaults else None
        self.error_threshold = None if error is None else max(error, 1)


def _query(body: dict[str, Any], where: str, *, required: bool) -> str:
    query = optional_string(
        body, "targetFilterQuery", max_length=rollout_services.MAX_QUERY_LENGTH, where=where
    )
    if required and not query:
        raise errors.bad_request(f"{where}targetFilterQuery is required")
    if query:
        try:
            device_query_compile(query=query)
        except domain.InvalidInput as exc:
            raise errors.bad_request(f"{where}targetFilterQuery: {exc.message}") from None
    return query or ""


def _group_spec(entry: Any, index: int, defaults: Conditions) -> GroupSpec:
    where = f"groups[{index}]."
    if not isinstance(entry, dict):
        raise errors.bad_request(f"groups[{index}] must be an object")
    name = optional_string(entry, "name", max_length=128, where=where)
    if not name:
        raise errors.bad_request(f"{where}name is required")
    percentage = entry.get("targetPercentage")
    if percentage is not None and (
        isinstance(percentage, bool) or not isinstance(percentage, int | float) or not 0 < percentage <= 100
    ):
        raise errors.bad_request(
            f"{where}targetPercentage must be a number above 0 and at most 100, got {percentage!r}"
        )
    conditions = Conditions(entry, where, defaults)
    return GroupSpec(
        name=name,
        description=optional_string(entry, "description", max_length=512, where=where) or "",
        query=_query(entry, where, required=False),
        target_percentage=float(percentage) if percentage is not None else None,
        success_threshold=conditions.success_threshold,
        success_action=conditions.success_action,
        error_threshold=conditions.error_threshold,
        confirmation_required=optional_boolean(entry, "confirmationRequired", where=where),
    )


def _groups(body: dict[str, Any]) -> list[GroupSpec]:
    defaults = Conditions(body, "")
    amount, groups = body.get("amountGroups"), body.get("groups")
    if (amount is None) == (groups is None):
        raise errors.bad_request("give either amountGroups or groups")
    if groups is not None:
        if not isinstance(groups, list) or not groups:
            raise errors.bad_request("groups must be a non-empty array")
        return [_group_spec(entry, index, defaults) for index, entry in enumerate(groups)]
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise errors.bad_request(f"amountGroups must be a whole number, got {amount!r}")
    try:
        return rollout_services.groups_even(
            amount,
            success_threshold=defaults.success_threshold,
            success_action=defaults.success_action,
            error_threshold=defaults.error_threshold,
        )
    except InvalidSetting as exc:
        raise errors.bad_request(f"amountGroups {exc.problem}") from None


def _start_at(body: dict[str, Any]) -> datetime | None:
    value = body.get("startAt")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FORCETIME:
        raise errors.bad_request(f"startAt must be milliseconds since the epoch, got {str(value)[:40]!r}")
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def hawkbit_field(field: str) -> str:
    """``groups[1].target_percentage`` -> ``groups[1].targetPercentage``."""
    head, _, tail = field.rpartition(".")
    if head.startswith("groups["):
        return f"{head}.{_GROUP_FIELDS.get(tail, tail)}"
    return _ROLLOUT_FIELDS.get(field, field)


def invalid(exc: domain.DomainError) -> errors.MgmtError:
    """A service error as hawkBit answers it: bad input names hawkBit's field, a conflict is an
    illegal state."""
    if isinstance(exc, InvalidSetting):
        return errors.bad_request(f"{hawkbit_field(exc.field)} {exc.problem}")
    if isinstance(exc, domain.Conflict):
        return illegal_state(exc.message)
    return errors.from_domain_error(exc)


def rollout_create_from(request: Request, body: dict[str, Any]) -> Rollout:
    name = optional_string(body, "name", max_length=rollout_services.MAX_NAME_LENGTH)
    if not name:
        raise errors.bad_request("name is required")
    description = optional_string(body, "description", max_length=512) or ""
    query = _query(body, "", required=True)
    if body.get("distributionSetId") is None:
        raise errors.bad_request("distributionSetId is required")
    try:
        software = software_or_404(body.get("distributionSetId"), where="distributionSet")
    except errors.MgmtError as exc:
        raise errors.bad_request(f"distributionSetId: {exc.message}") from None
    groups = _groups(body)
    assignment = Assignment(body, "")
    dynamic = optional_boolean(body, "dynamic")
    try:
        return rollout_services.rollout_create(
            name=name,
            software=software,
            feed="",
            query=query,
            description=description,
            groups=groups,
            dynamic=bool(dynamic),
            start_at=_start_at(body),
            created_by=_user(request),
            confirmation_required=assignment.confirmation_required,
            options=assignment.options,
        )
    except domain.DomainError as exc:
        raise invalid(exc) from None


# --- views ------------------------------------------------------------------------------------


def _user(request: Request) -> User | None:
    user = request.user
    return user if isinstance(user, User) else None


def _full(request: Request) -> bool:
    raw = request.query_params.get("representation", "compact").strip().lower()
    if raw not in ("compact", "full"):
        raise errors.bad_request(f"representation must be compact or full, got {raw[:40]!r}")
    return raw == "full"


class RolloutsView(MgmtView):
    paged = True
    required_permissions = {"GET": ["READ_ROLLOUT"], "POST": ["CREATE_ROLLOUT", "READ_DISTRIBUTION_SET"]}

    def get(self, request: Request) -> Response:
        full = _full(request)
        return paged_response(
            request,
            _rollouts(),
            render=lambda rollout: rollout_json(request, rollout, full=full),
            sort_fields=ROLLOUT_SORT_FIELDS,
            default_sort=["id"],
            query_fields=ROLLOUT_QUERY_FIELDS,
        )

    def post(self, request: Request) -> Response:
        rollout = rollout_create_from(request, self.body_object(request))
        return Response(rollout_json(request, rollout_or_404(str(rollout.pk))), status=201)


class RolloutView(MgmtView):
    required_permissions = {"GET": ["READ_ROLLOUT"], "PUT": ["UPDATE_ROLLOUT"], "DELETE": ["DELETE_ROLLOUT"]}

    def get(self, request: Request, rollout_id: str) -> Response:
        return Response(rollout_json(request, rollout_or_404(rollout_id)))

    def put(self, request: Request, rollout_id: str) -> Response:
        body = self.body_object(request)
        rollout = rollout_or_404(rollout_id)
        changes: dict[str, Any] = {}
        name = optional_string(body, "name", max_length=rollout_services.MAX_NAME_LENGTH)
        if name is not None:
            changes["name"] = name
        description = optional_string(body, "description", max_length=512)
        if description is not None:
            changes["description"] = description
        try:
            rollout_services.rollout_update(rollout=rollout, **changes)
        except domain.DomainError as exc:
            raise invalid(exc) from None
        return Response(rollout_json(request, rollout_or_404(rollout_id)))

    def delete(self, request: Request, rollout_id: str) -> Response:
        try:
            rollout_services.rollout_delete(rollout=rollout_or_404(rollout_id))
        except domain.DomainError as exc:
            raise invalid(exc) from None
        return Response(status=200)


class _Transition(MgmtView):
    """``POST /rollouts/{id}/<verb>``: 200 without a body, as hawkBit answers."""

    required_permissions = {"POST": ["HANDLE_ROLLOUT"]}

    def act(self, request: Request, rollout: Rollout) -> Any:
        raise NotImplementedError

    def post(self, request: Request, rollout_id: str) -> Response:
        rollout = rollout_or_404(rollout_id)
        try:
            self.act(request, rollout)
        except domain.DomainError as exc:
            raise invalid(exc) from None
        return Response(status=200)


class RolloutStartView(_Transition):
    def act(self, request: Request, rollout: Rollout) -> Any:
        return rollout_services.rollout_start(rollout=rollout)


class RolloutPauseView(_Transition):
    def act(self, request: Request, rollout: Rollout) -> Any:
        return rollout_services.rollout_pause(rollout=rollout, by=_user(request))


class RolloutResumeView(_Transition):
    def act(self, request: Request, rollout: Rollout) -> Any:
        return rollout_services.rollout_resume(rollout=rollout)


class RolloutStopView(_Transition):
    def act(self, request: Request, rollout: Rollout) -> Any:
        return rollout_services.rollout_stop(rollout=rollout)


class RolloutTriggerNextGroupView(_Transition):
    def act(self, request: Request, rollout: Rollout) -> Any:
        return rollout_services.rollout_trigger_next_group(rollout=rollout)


def _remark(request: Request) -> str:
    remark = request.query_params.get("remark", "")
    if len(remark) > 512 or "\x00" in remark:
        raise errors.bad_request("remark must be text of at most 512 characters")
    return remark


class RolloutApproveView(_Transition):
    required_permissions = {"POST": ["APPROVE_ROLLOUT"]}

    def act(self, request: Request, rollout: Rollout) -> Any:
        return rollout_services.rollout_approve(rollout=rollout, by=_user(request), remark=_remark(request))


class RolloutDenyView(_Transition):
    required_permissions = {"POST": ["APPROVE_ROLLOUT"]}

    def act(self, request: Request, rollout: Rollout) -> Any:
        return rollout_services.rollout_deny(rollout=rollout, by=_user(request), remark=_remark(request))


class RolloutRetryView(MgmtView):
    """hawkBit's retry: a new rollout of the failed targets, answered 201 with its body."""

    required_permissions = {"POST": ["CREATE_ROLLOUT", "READ_ROLLOUT"]}

    def post(self, request: Request, rollout_id: str) -> Response:
        try:
            retry = rollout_services.rollout_retry(
                rollout=rollout_or_404(rollout_id), created_by=_user(request)
            )
        except domain.DomainError as exc:
            raise invalid(exc) from None
        return Response(rollout_json(request, rollout_or_404(str(retry.pk))), status=201)


class RolloutGroupsView(MgmtView):
    paged = True
    required_permissions = {"GET": ["READ_ROLLOUT"]}

    def get(self, request: Request, rollout_id: str) -> Response:
        rollout = rollout_or_404(rollout_id)
        stats = _stats_by_position(rollout)
        return paged_response(
            request,
            RolloutGroup.objects.filter(rollout=rollout),
            render=lambda group: group_json(request, rollout, group, stats.get(group.position)),
            sort_fields=GROUP_SORT_FIELDS,
            default_sort=["position"],
            query_fields={
                "id": rsql.Field("id", type="number"),
                "name": rsql.Field("name"),
                "description": rsql.Field("description"),
            },
        )


class RolloutGroupView(MgmtView):
    required_permissions = {"GET": ["READ_ROLLOUT"]}

    def get(self, request: Request, rollout_id: str, group_id: str) -> Response:
        rollout = rollout_or_404(rollout_id)
        group = group_or_404(rollout, group_id)
        return Response(group_json(request, rollout, group, _stats_by_position(rollout).get(group.position)))


class RolloutGroupTargetsView(MgmtView):
    paged = True
    required_permissions = {"GET": ["READ_ROLLOUT", "READ_TARGET"]}

    def get(self, request: Request, rollout_id: str, group_id: str) -> Response:
        rollout = rollout_or_404(rollout_id)
        group = group_or_404(rollout, group_id)
        groups = rollout_selectors.rollout_groups_frozen_or_planned(rollout)
        devices = rollout_selectors.devices_in_group(rollout=rollout, groups=groups, position=group.position)
        return paged_response(
            request,
            devices.select_related("installed_action"),
            render=lambda device: target_json(request, device),
            sort_fields=TARGET_SORT_FIELDS,
            default_sort=["id"],
        )
