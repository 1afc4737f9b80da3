"""``/rest/v1/targetfilters``: hawkBit's target filter queries are our saved device filters.

The JSON is hawkBit's MgmtTargetFilterQuery (Include.ALWAYS: absent values are null, not left
out). The auto-assignment is set with ``POST …/autoAssignDS`` ({id, type, weight,
confirmationRequired}); with the tenant setting auto.assignment.approval.enabled it waits for a
second operator's approval (admin or /api/v1) before devices get it.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from goosebit_project.lib import rsql
from mgmt import errors
from mgmt.paging import paged_response
from mgmt.views.assignments import Assignment, distribution_set_json, software_or_404
from mgmt.views.base import MgmtView, link, millis
from mgmt.views.targets import optional_string
from rollouts import services as rollout_services
from rollouts.models import DeviceFilter
from rollouts.options import DeploymentOptions

FILTER_SORT_FIELDS = {
    "id": "id",
    "name": "name",
    "createdAt": "created",
    "createdBy": "created_by",
    "lastModifiedAt": "updated",
    "lastModifiedBy": "updated_by",
}
FILTER_QUERY_FIELDS: dict[str, rsql.Field] = {
    "id": rsql.Field("id", type="number"),
    "name": rsql.Field("name"),
    "createdAt": rsql.Field("created", type="timestamp"),
    "createdBy": rsql.Field("created_by"),
    "lastModifiedAt": rsql.Field("updated", type="timestamp"),
    "lastModifiedBy": rsql.Field("updated_by"),
    "autoAssignDistributionSet.name": rsql.Field("auto_assign_software__name"),
    "autoAssignDistributionSet.version": rsql.Field("auto_assign_software__version"),
}
# hawkBit refuses timeforced for an auto-assignment (it has no fixed point in time).
AUTO_ASSIGN_ACTION_TYPES = ("forced", "soft", "downloadonly")


def _filters() -> Any:
    return DeviceFilter.objects.select_related("auto_assign_software")


def filter_or_404(raw_id: str) -> DeviceFilter:
    device_filter = None
    if raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18:
        device_filter = _filters().filter(pk=int(raw_id)).first()
    if device_filter is None:
        raise errors.not_found(f"target filter {raw_id[:64]!r} does not exist")
    return device_filter


def target_filter_json(request: Request, device_filter: DeviceFilter) -> dict[str, Any]:
    """hawkBit's MgmtTargetFilterQuery."""
    assigned = device_filter.auto_assign_software_id is not None
    options = DeploymentOptions.from_json(device_filter.auto_assign_options) if assigned else None
    return {
        "createdBy": device_filter.created_by or None,
        "createdAt": millis(device_filter.created),
        "lastModifiedBy": device_filter.updated_by or None,
        "lastModifiedAt": millis(device_filter.updated),
        "id": device_filter.pk,
        "name": device_filter.name,
        "query": device_filter.query,
        "autoAssignDistributionSet": device_filter.auto_assign_software_id,
        "autoAssignActionType": options.action_type if options else None,
        "autoAssignWeight": options.weight if options else None,
        "confirmationRequired": device_filter.auto_assign_confirmation_required if assigned else None,
        # Not hawkBit's: where the four-eyes approval stands (none, waiting_for_approval, ...).
        "autoAssignStatus": device_filter.auto_assign_status,
        "_links": {
            "self": link(request, "targetfilter", device_filter.pk),
            "autoAssignDS": link(request, "targetfilter-auto-assign-ds", device_filter.pk),
        },
    }


def _name_and_query(body: dict[str, Any], *, required: bool) -> tuple[str | None, str | None]:
    name = optional_string(body, "name", max_length=rollout_services.MAX_FILTER_NAME_LENGTH)
    query = optional_string(body, "query", max_length=rollout_services.MAX_QUERY_LENGTH)
    if required and (not name or not query):
        raise errors.bad_request("name and query are required")
    return name, query


def _username(request: Request) -> str:
    return str(getattr(request.user, "username", "") or "")


class TargetFiltersView(MgmtView):
    paged = True
    required_permissions = {"GET": ["READ_TARGET"], "POST": ["CREATE_TARGET"]}

    def get(self, request: Request) -> Response:
        return paged_response(
            request,
            _filters(),
            render=lambda device_filter: target_filter_json(request, device_filter),
            sort_fields=FILTER_SORT_FIELDS,
            default_sort=["id"],
            query_fields=FILTER_QUERY_FIELDS,
        )

    def post(self, request: Request) -> Response:
        name, query = _name_and_query(self.body_object(request), required=True)
        device_filter = rollout_services.device_filter_create(
            name=str(name), query=str(query), by=_username(request)
        )
        return Response(target_filter_json(request, device_filter), status=201)


class TargetFilterView(MgmtView):
    required_permissions = {
        "GET": ["READ_TARGET"],
        "PUT": ["UPDATE_TARGET"],
        "DELETE": ["DELETE_TARGET"],
    }

    def get(self, request: Request, filter_id: str) -> Response:
        return Response(target_filter_json(request, filter_or_404(filter_id)))

    def put(self, request: Request, filter_id: str) -> Response:
        body = self.body_object(request)
        device_filter = filter_or_404(filter_id)
        name, query = _name_and_query(body, required=False)
        rollout_services.device_filter_update(
            device_filter=device_filter, name=name or None, query=query or None, by=_username(request)
        )
        return Response(target_filter_json(request, filter_or_404(filter_id)))

    def delete(self, request: Request, filter_id: str) -> Response:
        rollout_services.device_filter_delete(device_filter=filter_or_404(filter_id))
        return Response(status=204)


class TargetFilterAutoAssignView(MgmtView):
    required_permissions = {
        "GET": ["READ_TARGET", "READ_DISTRIBUTION_SET"],
        "POST": ["UPDATE_TARGET", "READ_DISTRIBUTION_SET"],
        "DELETE": ["UPDATE_TARGET"],
    }

    def get(self, request: Request, filter_id: str) -> Response:
        device_filter = filter_or_404(filter_id)
        if device_filter.auto_assign_software is None:
            return Response(status=204)  # as hawkBit: no auto-assignment set
        return Response(distribution_set_json(request, device_filter.auto_assign_software))

    def post(self, request: Request, filter_id: str) -> Response:
        body = self.body_object(request)
        device_filter = filter_or_404(filter_id)
        action_type = body.get("type")
        if isinstance(action_type, str) and action_type.lower() not in AUTO_ASSIGN_ACTION_TYPES:
            raise errors.bad_request(
                f"type must be one of {', '.join(AUTO_ASSIGN_ACTION_TYPES)} for an auto-assignment, "
                f"got {action_type!r}"
            )
        assignment = Assignment(body, "")
        if "id" not in body:
            raise errors.bad_request("id (the distribution set) is required")
        software = software_or_404(body.get("id"))
        rollout_services.device_filter_set_auto_assign(
            device_filter=device_filter,
            software=software,
            options=assignment.options,
            confirmation_required=assignment.confirmation_required,
            by=_username(request),
        )
        return Response(target_filter_json(request, filter_or_404(filter_id)))

    def delete(self, request: Request, filter_id: str) -> Response:
        rollout_services.device_filter_clear_auto_assign(
            device_filter=filter_or_404(filter_id), by=_username(request)
        )
        return Response(status=204)
