"""``/rest/v1/rollouts``: hawkBit's rollouts and their deployment groups on our staged rollouts.

The JSON is hawkBit's MgmtRolloutResponseBody / MgmtRolloutGroupResponseBody. hawkBit's
``targetFilterQuery`` is our rollout's device query (of any feed); its groups' success and error
conditions (``THRESHOLD`` with a percent) are our groups' success and error thresholds. Our draft
is hawkBit's ``ready``. Every rule is rollouts.services'; a refused transition is hawkBit's
``RolloutIllegalStateException`` (400).

The statistics come from rollouts.selectors.rollout_group_stats: one query per started rollout
(and one for its groups), whatever the fleet size; before the start the planned group sizes add
two per group. The list answers hawkBit's ``compact`` representation by default: no statistics,
``totalTargets`` frozen at the start (a fixed number of queries per page) or, for a rollout not
started yet, one count each; ``representation=full`` adds the statistics.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from goosebit_project.lib import errors as domain
from goosebit_project.lib import rsql
from mgmt import errors
from mgmt.paging import paged_response
from mgmt.views.actions import parse_id
from mgmt.views.base import MgmtView, link, millis, without_none
from mgmt.views.rollout_requests import invalid, request_user, rollout_create_from
from mgmt.views.targets import TARGET_SORT_FIELDS, optional_string, target_json
from rollouts import selectors as rollout_selectors
from rollouts import services as rollout_services
from rollouts.models import Rollout, RolloutGroup

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
GROUP_QUERY_FIELDS: dict[str, rsql.Field] = {
    "id": rsql.Field("id", type="number"),
    "name": rsql.Field("name"),
    "description": rsql.Field("description"),
}


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
    """hawkBit counts the devices of a started rollout's later groups as scheduled; before the
    start every device is notstarted."""
    return (
        rollout.status not in UNSTARTED
        and group is not None
        and group.status == RolloutGroup.Status.SCHEDULED
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
    request: Request,
    rollout: Rollout,
    group: RolloutGroup,
    stats: rollout_selectors.GroupStats | None,
    *,
    full: bool = True,
    confirmation_flow: bool = False,
) -> dict[str, Any]:
    """hawkBit's MgmtRolloutGroupResponseBody; ``full`` adds totalTargetsPerStatus.

    ``confirmationRequired`` is shown, as hawkBit does, only with the confirmation flow on.
    """
    confirmation = group.confirmation_required
    groups = list(rollout.groups.all())
    last = bool(groups) and groups[-1].pk == group.pk
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
        "confirmationRequired": (
            (rollout.confirmation_required if confirmation is None else confirmation)
            if confirmation_flow
            else None
        ),
        "status": _group_status(rollout, group),
        # The last group of a dynamic rollout takes the devices that match after the start.
        "dynamic": rollout.dynamic and last,
        "totalTargets": stats.targeted if stats is not None else (group.frozen_total or 0),
        "_links": {"self": link(request, "rollout-group", rollout.pk, group.pk)},
    }
    if group.target_percentage is None and group.target_count is None:
        body["targetPercentage"] = 100.0  # all the devices the earlier groups left
    if stats is not None and full:
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
        "approvalRemark": rollout.approval_remark or None,
        "approveDecidedBy": rollout.approval_decided_by or None,
        "_links": {"self": link(request, "rollout", rollout.pk)},
    }
    if rollout.started_at is not None:
        body["totalTargets"] = sum(group.frozen_total or 0 for group in groups)
    elif not full:
        # Not frozen yet: one count (hawkBit counts when it creates the rollout).
        body["totalTargets"] = rollout_selectors.rollout_targeted_devices(rollout=rollout).count()
    if full:
        body["totalTargets"], body["totalTargetsPerStatus"] = _totals(rollout)
        links = body["_links"]
        for name in ("start", "pause", "resume", "triggerNextGroup", "approve", "deny"):
            links[name] = link(request, f"rollout-{name.lower()}", rollout.pk)
        links["groups"] = link(request, "rollout-groups", rollout.pk, query="offset=0&limit=50")
        links["distributionset"] = {
            **link(request, "distributionset", rollout.software_id),
            "name": f"{rollout.software.name}:{rollout.software.version}",
        }
    return without_none(body)


# --- views ------------------------------------------------------------------------------------


def _full(request: Request) -> bool:
    # As hawkBit: anything but "full" is the compact representation, never a 400.
    return request.query_params.get("representation", "").strip().lower() == "full"


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
        return Response(status=204)


class _Transition(MgmtView):
    """``POST /rollouts/{id}/<verb>``: 204 without a body, as hawkBit answers."""

    required_permissions = {"POST": ["HANDLE_ROLLOUT"]}

    def act(self, request: Request, rollout: Rollout) -> Any:
        raise NotImplementedError

    def post(self, request: Request, rollout_id: str) -> Response:
        rollout = rollout_or_404(rollout_id)
        try:
            self.act(request, rollout)
        except domain.DomainError as exc:
            raise invalid(exc) from None
        return Response(status=204)


class RolloutStartView(_Transition):
    def act(self, request: Request, rollout: Rollout) -> Any:
        return rollout_services.rollout_start(rollout=rollout)


class RolloutPauseView(_Transition):
    def act(self, request: Request, rollout: Rollout) -> Any:
        return rollout_services.rollout_pause(rollout=rollout, by=request_user(request))


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
        return rollout_services.rollout_approve(
            rollout=rollout, by=request_user(request), remark=_remark(request)
        )


class RolloutDenyView(_Transition):
    required_permissions = {"POST": ["APPROVE_ROLLOUT"]}

    def act(self, request: Request, rollout: Rollout) -> Any:
        return rollout_services.rollout_deny(
            rollout=rollout, by=request_user(request), remark=_remark(request)
        )


class RolloutRetryView(MgmtView):
    """hawkBit's retry: a new rollout of the failed targets, answered 201 with its body."""

    required_permissions = {"POST": ["CREATE_ROLLOUT", "READ_ROLLOUT"]}

    def post(self, request: Request, rollout_id: str) -> Response:
        try:
            retry = rollout_services.rollout_retry(
                rollout=rollout_or_404(rollout_id), created_by=request_user(request)
            )
        except domain.Conflict as exc:
            raise errors.bad_request(exc.message) from None  # hawkBit's ValidationException
        except domain.DomainError as exc:
            raise invalid(exc) from None
        return Response(rollout_json(request, rollout_or_404(str(retry.pk))), status=201)


class RolloutGroupsView(MgmtView):
    paged = True
    required_permissions = {"GET": ["READ_ROLLOUT"]}

    def get(self, request: Request, rollout_id: str) -> Response:
        rollout = rollout_or_404(rollout_id)
        stats = _stats_by_position(rollout)  # one query for the page (totalTargets needs it)
        full, flow = _full(request), rollout_selectors.confirmation_flow_enabled()
        return paged_response(
            request,
            RolloutGroup.objects.filter(rollout=rollout),
            render=lambda group: group_json(
                request, rollout, group, stats.get(group.position), full=full, confirmation_flow=flow
            ),
            sort_fields=GROUP_SORT_FIELDS,
            default_sort=["position"],
            query_fields=GROUP_QUERY_FIELDS,
        )


class RolloutGroupView(MgmtView):
    required_permissions = {"GET": ["READ_ROLLOUT"]}

    def get(self, request: Request, rollout_id: str, group_id: str) -> Response:
        rollout = rollout_or_404(rollout_id)
        group = group_or_404(rollout, group_id)
        stats = _stats_by_position(rollout).get(group.position)
        flow = rollout_selectors.confirmation_flow_enabled()
        return Response(group_json(request, rollout, group, stats, confirmation_flow=flow))


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
