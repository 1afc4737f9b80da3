"""``/rest/v1/targettags`` and ``/rest/v1/distributionsettags``: our device and release tags.

A tag's JSON is hawkBit's MgmtTag (createdBy/lastModifiedBy left out: we do not record them).
As hawkBit's MgmtTargetTagResource / MgmtDistributionSetTagResource: lists and creates show the
``self`` link only, one tag read or updated adds its ``assignedTargets`` (``assignedDistributionSets``)
link; create answers 201, assign and unassign 204. Bulk assign/unassign take a JSON array of
controller ids (set ids) and hawkBit's ``onNotFoundPolicy``: FAIL (the default: an unknown id
refuses the lot), ON_WHAT_FOUND_AND_FAIL (the found ones change, then 404) or
ON_WHAT_FOUND_AND_SUCCESS (the found ones change, 204). Target tags need hawkBit's *_TARGET
permissions, set tags its *_DISTRIBUTION_SET ones (hawkBit has no tag permissions of its own).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models, transaction
from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from devices.models import Device, DeviceTag
from devices.services import tags as device_tag_services
from goosebit_project.lib import rsql
from goosebit_project.lib.errors import InvalidInput
from mgmt import errors
from mgmt.paging import paged_response
from mgmt.representations import software as software_representations
from mgmt.views.base import MgmtView, link, millis, without_none
from mgmt.views.distributionsets import SET_QUERY, SET_SORT
from mgmt.views.software_common import SoftwareView, entry, get_or_404, text
from mgmt.views.targets import (
    TARGET_QUERY_FIELDS,
    TARGET_SORT_FIELDS,
    _hide_from_caches,
    device_or_404,
    target_json,
    targets_queryset,
)
from software import selectors as software_selectors
from software import services as software_services
from software.models import ReleaseTag, Software

# hawkBit's TagFields.
TAG_SORT = {
    "id": "pk",
    "name": "name",
    "description": "description",
    "colour": "colour",
    "createdAt": "created",
    "lastModifiedAt": "updated",
}
TAG_QUERY = {
    "id": rsql.Field("pk", type="number"),
    "name": rsql.Field("name"),
    "description": rsql.Field("description"),
    "colour": rsql.Field("colour"),
    "createdAt": rsql.Field("created", type="timestamp"),
    "lastModifiedAt": rsql.Field("updated", type="timestamp"),
}
NOT_FOUND_POLICIES = ("FAIL", "ON_WHAT_FOUND_AND_FAIL", "ON_WHAT_FOUND_AND_SUCCESS")


def tag_json(
    request: Request, tag: models.Model, route: str, *, assigned: str | None = None
) -> dict[str, Any]:
    """hawkBit's MgmtTag; ``assigned`` names the route of the tag's assigned entities link."""
    links = {"self": link(request, route, tag.pk)}
    if assigned is not None:
        links[assigned] = link(request, f"{route}-assigned", tag.pk, query="offset=0&limit=50")
    return without_none(
        {
            "createdAt": millis(tag.created),  # type: ignore[attr-defined]
            "lastModifiedAt": millis(tag.updated),  # type: ignore[attr-defined]
            "name": tag.name,  # type: ignore[attr-defined]
            "description": tag.description,  # type: ignore[attr-defined]
            "colour": tag.colour or None,  # type: ignore[attr-defined]
            "_links": links,
            "id": tag.pk,
        }
    )


def _tag_pk(raw: str, what: str) -> int:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise errors.not_found(f"{what} with id {raw[:32]!r} does not exist")
    return int(raw)


def _fields(body: dict[str, Any], where: str, *, creating: bool) -> dict[str, Any]:
    fields = {
        "name": text(body, "name", required=creating, where=where),
        "description": text(body, "description", where=where),
        "colour": text(body, "colour", where=where),
    }
    try:
        device_tag_services.tag_fields(**fields)  # hawkBit's lengths, named with the entry's index
    except InvalidInput as exc:
        raise errors.bad_request(f"{where}{exc.message}") from None
    return fields


def not_found_policy(request: Request) -> str:
    raw = request.query_params.get("onNotFoundPolicy", "FAIL").strip().upper() or "FAIL"
    if raw not in NOT_FOUND_POLICIES:
        raise errors.bad_request(f"onNotFoundPolicy must be one of {', '.join(NOT_FOUND_POLICIES)}")
    return raw


class _TagKind(SoftwareView):
    """What the two tag resources share; subclasses name the model, routes and services."""

    model: ClassVar[type[models.Model]]
    what: ClassVar[str]
    route: ClassVar[str]
    assigned_rel: ClassVar[str]

    def tag(self, raw: str) -> Any:
        return get_or_404(self.model._default_manager.all(), _tag_pk(raw, self.what), self.what)

    def render(self, request: Request, tag: Any, *, details: bool = False) -> dict[str, Any]:
        return tag_json(request, tag, self.route, assigned=self.assigned_rel if details else None)

    def create_tag(self, fields: dict[str, Any]) -> Any:
        raise NotImplementedError

    def update_tag(self, tag: Any, fields: dict[str, Any]) -> Any:
        raise NotImplementedError

    def delete_tag(self, tag: Any) -> None:
        raise NotImplementedError


class _TagsView(_TagKind):
    paged = True

    def get(self, request: Request) -> Response:
        return paged_response(
            request,
            self.model._default_manager.all(),
            render=lambda tag: self.render(request, tag),
            sort_fields=TAG_SORT,
            default_sort=["pk"],
            query_fields=TAG_QUERY,
        )

    def post(self, request: Request) -> Response:
        bodies = [entry(item, f"[{index}].") for index, item in enumerate(self.body_list(request))]
        fields = [_fields(body, f"[{index}].", creating=True) for index, body in enumerate(bodies)]
        names = [str(item["name"]).strip() for item in fields]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise errors.already_exists(f"the tag name {repeated[0]!r} is listed more than once")
        with transaction.atomic():
            created = [self.create_tag(item) for item in fields]
        return Response([self.render(request, tag) for tag in created], status=201)


class _TagView(_TagKind):
    def get(self, request: Request, tag_id: str) -> Response:
        return Response(self.render(request, self.tag(tag_id), details=True))

    def put(self, request: Request, tag_id: str) -> Response:
        tag = self.tag(tag_id)
        updated = self.update_tag(tag, _fields(self.body_object(request), "", creating=False))
        return Response(self.render(request, updated, details=True))

    def delete(self, request: Request, tag_id: str) -> Response:
        self.delete_tag(self.tag(tag_id))
        return Response(status=204)


class _AssignedView(_TagKind):
    """GET a page of the tagged entities; POST/DELETE a JSON array of ids to tag or untag."""

    paged = True

    def found_ids(self, ids: list[Any]) -> set[Any]:
        raise NotImplementedError

    def check_ids(self, ids: list[Any]) -> None:
        raise NotImplementedError

    def change(self, tag: Any, ids: list[Any], *, assign: bool) -> None:
        raise NotImplementedError

    def _apply(self, request: Request, tag_id: str, *, assign: bool) -> Response:
        tag = self.tag(tag_id)
        policy = not_found_policy(request)
        ids = self.body_list(request, max_items=device_tag_services.MAX_TAG_BATCH)
        self.check_ids(ids)
        missing: list[Any] = []
        if policy != "FAIL":
            found = self.found_ids(ids)
            missing = [item for item in ids if item not in found]
            ids = [item for item in ids if item in found]
        self.change(tag, ids, assign=assign)
        if missing and policy == "ON_WHAT_FOUND_AND_FAIL":
            raise errors.not_found(f"{len(missing)} listed ids do not exist, e.g. {str(missing[0])[:64]!r}")
        return Response(status=204)

    def post(self, request: Request, tag_id: str) -> Response:
        return self._apply(request, tag_id, assign=True)

    def delete(self, request: Request, tag_id: str) -> Response:
        return self._apply(request, tag_id, assign=False)


# --- target tags --------------------------------------------------------------------------------


class _TargetTagKind(_TagKind):
    model = DeviceTag
    what = "target tag"
    route = "targettag"
    assigned_rel = "assignedTargets"

    def create_tag(self, fields: dict[str, Any]) -> DeviceTag:
        return device_tag_services.device_tag_create(
            name=fields["name"], description=fields["description"] or "", colour=fields["colour"] or ""
        )

    def update_tag(self, tag: DeviceTag, fields: dict[str, Any]) -> DeviceTag:
        return device_tag_services.device_tag_update(tag=tag, **fields)

    def delete_tag(self, tag: DeviceTag) -> None:
        device_tag_services.device_tag_delete(tag=tag)


class TargetTagsView(_TargetTagKind, _TagsView):
    required_permissions = {"GET": ["READ_TARGET"], "POST": ["CREATE_TARGET"]}


class TargetTagView(_TargetTagKind, _TagView):
    required_permissions = {"GET": ["READ_TARGET"], "PUT": ["UPDATE_TARGET"], "DELETE": ["DELETE_TARGET"]}


class TargetTagAssignedView(_TargetTagKind, _AssignedView):
    required_permissions = {"GET": ["READ_TARGET"], "POST": ["UPDATE_TARGET"], "DELETE": ["UPDATE_TARGET"]}

    def get(self, request: Request, tag_id: str) -> Response:
        tag = self.tag(tag_id)
        response = paged_response(
            request,
            targets_queryset().filter(tags=tag),
            render=lambda device: target_json(request, device),
            sort_fields=TARGET_SORT_FIELDS,
            default_sort=["controller_id"],
            query_fields=TARGET_QUERY_FIELDS,
        )
        return _hide_from_caches(response, request)

    def check_ids(self, ids: list[Any]) -> None:
        if not all(isinstance(item, str) for item in ids):
            raise errors.bad_request("the body must be a JSON array of controller ids (strings)")

    def found_ids(self, ids: list[Any]) -> set[Any]:
        queryable = device_tag_services.queryable_controller_ids(ids)
        return set(Device.objects.filter(controller_id__in=queryable).values_list("controller_id", flat=True))

    def change(self, tag: DeviceTag, ids: list[Any], *, assign: bool) -> None:
        if assign:
            device_tag_services.device_tag_assign(tag=tag, controller_ids=ids)
        else:
            device_tag_services.device_tag_unassign(tag=tag, controller_ids=ids)


class TargetTagAssignedOneView(_TargetTagKind):
    required_permissions = {"POST": ["UPDATE_TARGET"], "DELETE": ["UPDATE_TARGET"]}

    def post(self, request: Request, tag_id: str, controller_id: str) -> Response:
        tag = self.tag(tag_id)
        device_tag_services.device_tag_assign(
            tag=tag, controller_ids=[device_or_404(controller_id).controller_id]
        )
        return Response(status=204)

    def delete(self, request: Request, tag_id: str, controller_id: str) -> Response:
        tag = self.tag(tag_id)
        device_tag_services.device_tag_unassign(
            tag=tag, controller_ids=[device_or_404(controller_id).controller_id]
        )
        return Response(status=204)


class TargetTagsOfTargetView(MgmtView):
    """``/targets/{id}/tags``: the target's tags, a plain array as hawkBit answers."""

    required_permissions = {"GET": ["READ_TARGET"]}

    def get(self, request: Request, controller_id: str) -> Response:
        device = device_or_404(controller_id)
        return Response([tag_json(request, tag, "targettag") for tag in device.tags.order_by("pk")])


# --- distribution set tags ----------------------------------------------------------------------


def _releases() -> QuerySet[Software]:
    return software_selectors.releases_list(deleted_mode="INCLUDE_SOFT_DELETED")


class _SetTagKind(_TagKind):
    model = ReleaseTag
    what = "distribution set tag"
    route = "distributionsettag"
    assigned_rel = "assignedDistributionSets"

    def create_tag(self, fields: dict[str, Any]) -> ReleaseTag:
        return software_services.release_tag_create(
            name=fields["name"], description=fields["description"] or "", colour=fields["colour"] or ""
        )

    def update_tag(self, tag: ReleaseTag, fields: dict[str, Any]) -> ReleaseTag:
        return software_services.release_tag_update(tag=tag, **fields)

    def delete_tag(self, tag: ReleaseTag) -> None:
        software_services.release_tag_delete(tag=tag)


class SetTagsView(_SetTagKind, _TagsView):
    required_permissions = {"GET": ["READ_DISTRIBUTION_SET"], "POST": ["CREATE_DISTRIBUTION_SET"]}


class SetTagView(_SetTagKind, _TagView):
    required_permissions = {
        "GET": ["READ_DISTRIBUTION_SET"],
        "PUT": ["UPDATE_DISTRIBUTION_SET"],
        "DELETE": ["DELETE_DISTRIBUTION_SET"],
    }


class SetTagAssignedView(_SetTagKind, _AssignedView):
    required_permissions = {
        "GET": ["READ_DISTRIBUTION_SET"],
        "POST": ["UPDATE_DISTRIBUTION_SET"],
        "DELETE": ["UPDATE_DISTRIBUTION_SET"],
    }

    def get(self, request: Request, tag_id: str) -> Response:
        tag = self.tag(tag_id)
        return paged_response(
            request,
            _releases().filter(tags=tag),
            render=lambda release: software_representations.distribution_set(request, release),
            sort_fields=SET_SORT,
            default_sort=["pk"],
            query_fields=SET_QUERY,
        )

    def check_ids(self, ids: list[Any]) -> None:
        if not all(isinstance(item, int) and not isinstance(item, bool) for item in ids):
            raise errors.bad_request("the body must be a JSON array of distribution set ids (numbers)")

    def found_ids(self, ids: list[Any]) -> set[Any]:
        in_range = [item for item in ids if 0 < item < 2**63]
        return set(Software.objects.filter(pk__in=in_range).values_list("pk", flat=True))

    def change(self, tag: ReleaseTag, ids: list[Any], *, assign: bool) -> None:
        if assign:
            software_services.release_tag_assign(tag=tag, release_ids=ids)
        else:
            software_services.release_tag_unassign(tag=tag, release_ids=ids)


class SetTagAssignedOneView(_SetTagKind):
    required_permissions = {"POST": ["UPDATE_DISTRIBUTION_SET"], "DELETE": ["UPDATE_DISTRIBUTION_SET"]}

    def _release(self, raw: str) -> Software:
        return get_or_404(_releases(), _tag_pk(raw, "distribution set"), "distribution set")

    def post(self, request: Request, tag_id: str, ds_id: str) -> Response:
        tag = self.tag(tag_id)
        software_services.release_tag_assign(tag=tag, release_ids=[self._release(ds_id).pk])
        return Response(status=204)

    def delete(self, request: Request, tag_id: str, ds_id: str) -> Response:
        tag = self.tag(tag_id)
        software_services.release_tag_unassign(tag=tag, release_ids=[self._release(ds_id).pk])
        return Response(status=204)
