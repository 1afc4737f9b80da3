"""``/rest/v1/distributionsets`` (our releases) and ``/rest/v1/distributionsettypes``.

A distribution set is a ``Software`` release. hawkBit's resources (MgmtDistributionSetResource,
MgmtDistributionSetTypeResource) answer 201 on create, 200 on read and update, 204 on delete and
on the module assignment calls. A release devices were offered (or a rollout uses) is locked:
its modules and version stay (423). The assigned/installed targets of a set live with the
target resources (mgmt.routes_targets).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import transaction
from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from goosebit_project.lib import rsql
from mgmt import errors
from mgmt.paging import paged_response
from mgmt.representations import software as representations
from mgmt.views.software_common import (
    CollectionView,
    SoftwareView,
    entity_id,
    entry,
    flag,
    get_or_404,
    id_list,
    text,
    unsupported_flag,
)
from mgmt.views.softwaremodules import METADATA_QUERY, METADATA_SORT, MODULE_SORT
from software import selectors, services
from software.models import DistributionSetType, Software, SoftwareModule

# hawkBit's DistributionSetFields / DistributionSetTypeFields (without valid and
# the createdBy/lastModified* fields, which we do not have).
SET_SORT = {
    "id": "pk",
    "name": "name",
    "description": "description",
    "version": "version",
    "type": "type__key",
    "createdAt": "created",
}
SET_QUERY = {
    "id": rsql.Field("pk", type="number"),
    "type": rsql.Field("type__key"),
    "type.id": rsql.Field("type__pk", type="number"),
    "type.key": rsql.Field("type__key"),
    "type.name": rsql.Field("type__name"),
    "name": rsql.Field("name"),
    "description": rsql.Field("description"),
    "version": rsql.Field("version"),
    "modules.id": rsql.Field("modules__pk", type="number"),
    "modules.name": rsql.Field("modules__name"),
    "metadata": rsql.Field("metadata", related_key=("metadata__key", "metadata__value")),
    "createdAt": rsql.Field("created", type="timestamp"),
    # hawkBit's DistributionSetFields.TAG.
    "tag": rsql.Field("tags__name"),
    "tag.name": rsql.Field("tags__name"),
}
SET_TYPE_SORT = {
    "id": "pk",
    "key": "key",
    "name": "name",
    "description": "description",
    "createdAt": "created",
}
SET_TYPE_QUERY = {
    "id": rsql.Field("pk", type="number"),
    "key": rsql.Field("key"),
    "name": rsql.Field("name"),
    "description": rsql.Field("description"),
    "createdAt": rsql.Field("created", type="timestamp"),
}


def _release(pk: int) -> Software:
    return get_or_404(selectors.releases_list(deleted_mode="INCLUDE_SOFT_DELETED"), pk, "distribution set")


def _modules(ids: list[int]) -> list[SoftwareModule]:
    found = {item.pk: item for item in SoftwareModule.objects.select_related("type").filter(pk__in=ids)}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise errors.not_found(f"software module with id {missing[0]} does not exist")
    return [found[pk] for pk in dict.fromkeys(ids)]


def _render(request: Request, release: Software) -> dict[str, Any]:
    return representations.distribution_set(request, release)


class SetsView(CollectionView):
    required_permissions = {"GET": ["READ_DISTRIBUTION_SET"], "POST": ["CREATE_DISTRIBUTION_SET"]}
    sort_fields = SET_SORT
    query_fields = SET_QUERY

    def items(self, deleted_mode: str) -> QuerySet[Software]:
        return selectors.releases_list(deleted_mode=deleted_mode)

    def render(self, request: Request, item: Software) -> dict[str, Any]:
        return representations.distribution_set(request, item)

    def create(self, body: dict[str, Any], where: str) -> Software:
        unsupported_flag(body, "locked", current=False, where=where)
        unsupported_flag(body, "requiredMigrationStep", current=False, where=where)
        return services.release_create(
            name=text(body, "name", required=True, where=where) or "",
            version=text(body, "version", required=True, where=where) or "",
            description=text(body, "description", where=where) or "",
            modules=_modules(id_list(body.get("modules"), f"{where}modules")),
            # hawkBit gives a set created without a type the tenant's default type.
            type_key=text(body, "type", where=where) or selectors.DEFAULT_SET_TYPE,
        )


class SetView(SoftwareView):
    required_permissions = {
        "GET": ["READ_DISTRIBUTION_SET"],
        "PUT": ["UPDATE_DISTRIBUTION_SET"],
        "DELETE": ["DELETE_DISTRIBUTION_SET"],
    }

    def get(self, request: Request, pk: int) -> Response:
        return Response(_render(request, _release(pk)))

    def put(self, request: Request, pk: int) -> Response:
        release = _release(pk)
        body = self.body_object(request)
        locked = flag(body, "locked")
        unsupported_flag(body, "requiredMigrationStep", current=False)
        with transaction.atomic():
            services.release_update(
                software=release,
                name=text(body, "name"),
                description=text(body, "description"),
                version=text(body, "version"),
            )
            if locked is not None:
                services.release_set_locked(software=release, locked=locked)
        return Response(_render(request, _release(pk)))

    def delete(self, request: Request, pk: int) -> Response:
        services.release_delete(software=_release(pk))
        return Response(status=204)


class SetModulesView(SoftwareView):
    paged = True
    required_permissions = {"GET": ["READ_DISTRIBUTION_SET"], "POST": ["UPDATE_DISTRIBUTION_SET"]}

    def get(self, request: Request, pk: int) -> Response:
        release = _release(pk)
        modules = selectors.modules_list(deleted_mode="INCLUDE_SOFT_DELETED").filter(releases=release)
        return paged_response(
            request,
            modules,
            render=lambda item: representations.module(request, item),
            sort_fields=MODULE_SORT,
            default_sort=["pk"],
        )

    def post(self, request: Request, pk: int) -> Response:
        release = _release(pk)
        services.release_add_modules(software=release, modules=_modules(id_list(request.data, "the body")))
        return Response(status=204)


class SetModuleView(SoftwareView):
    required_permissions = {"DELETE": ["UPDATE_DISTRIBUTION_SET"]}

    def delete(self, request: Request, pk: int, module_id: int) -> Response:
        release = _release(pk)
        module = get_or_404(SoftwareModule.objects.all(), module_id, "software module")
        services.release_remove_module(software=release, module=module)
        return Response(status=204)


class SetMetadataListView(SoftwareView):
    paged = True
    required_permissions = {"GET": ["READ_DISTRIBUTION_SET"], "POST": ["UPDATE_DISTRIBUTION_SET"]}

    def get(self, request: Request, pk: int) -> Response:
        return paged_response(
            request,
            _release(pk).metadata.all(),
            render=representations.release_metadata,
            sort_fields=METADATA_SORT,
            default_sort=["key"],
            query_fields=METADATA_QUERY,
        )

    def post(self, request: Request, pk: int) -> Response:
        release = _release(pk)
        entries = []
        for index, item in enumerate(self.body_list(request)):
            where = f"[{index}]."
            body = entry(item, where)
            entries.append(
                (text(body, "key", required=True, where=where) or "", text(body, "value", where=where) or "")
            )
        services.release_create_metadata(software=release, entries=entries)
        return Response(status=201)


class SetMetadataView(SoftwareView):
    required_permissions = {
        "GET": ["READ_DISTRIBUTION_SET"],
        "PUT": ["UPDATE_DISTRIBUTION_SET"],
        "DELETE": ["UPDATE_DISTRIBUTION_SET"],
    }

    def get(self, request: Request, pk: int, key: str) -> Response:
        release = _release(pk)
        found = release.metadata.filter(key=key).first() if key.isprintable() else None
        if found is None:
            raise errors.not_found(f"distribution set {release.pk} has no metadata {key[:128]!r}")
        return Response(representations.release_metadata(found))

    def put(self, request: Request, pk: int, key: str) -> Response:
        release = _release(pk)
        body = self.body_object(request)
        services.release_update_metadata(software=release, key=key, value=text(body, "value") or "")
        return Response(status=204)

    def delete(self, request: Request, pk: int, key: str) -> Response:
        services.release_delete_metadata(software=_release(pk), key=key)
        return Response(status=204)


# --- distribution set types ------------------------------------------------------------------


def _set_type(pk: int) -> DistributionSetType:
    return get_or_404(
        selectors.set_types_list(deleted_mode="INCLUDE_SOFT_DELETED"), pk, "distribution set type"
    )


class SetTypesView(CollectionView):
    required_permissions = {"GET": ["READ_DISTRIBUTION_SET_TYPE"], "POST": ["CREATE_DISTRIBUTION_SET_TYPE"]}
    sort_fields = SET_TYPE_SORT
    query_fields = SET_TYPE_QUERY

    def items(self, deleted_mode: str) -> QuerySet[DistributionSetType]:
        return selectors.set_types_list(deleted_mode=deleted_mode)

    def render(self, request: Request, item: DistributionSetType) -> dict[str, Any]:
        return representations.set_type(request, item)

    def create(self, body: dict[str, Any], where: str) -> DistributionSetType:
        return services.set_type_create(
            key=text(body, "key", required=True, where=where) or "",
            name=text(body, "name", required=True, where=where) or "",
            description=text(body, "description", where=where) or "",
            colour=text(body, "colour", where=where) or "",
            mandatory=id_list(body.get("mandatorymodules"), f"{where}mandatorymodules"),
            optional=id_list(body.get("optionalmodules"), f"{where}optionalmodules"),
        )


class SetTypeView(SoftwareView):
    required_permissions = {
        "GET": ["READ_DISTRIBUTION_SET_TYPE"],
        "PUT": ["UPDATE_DISTRIBUTION_SET_TYPE"],
        "DELETE": ["DELETE_DISTRIBUTION_SET_TYPE"],
    }

    def get(self, request: Request, pk: int) -> Response:
        return Response(representations.set_type(request, _set_type(pk)))

    def put(self, request: Request, pk: int) -> Response:
        body = self.body_object(request)
        updated = services.set_type_update(
            set_type=_set_type(pk), description=text(body, "description"), colour=text(body, "colour")
        )
        return Response(representations.set_type(request, updated))

    def delete(self, request: Request, pk: int) -> Response:
        services.set_type_delete(set_type=_set_type(pk))
        return Response(status=204)


class _ModuleTypesOfSetType(SoftwareView):
    mandatory: ClassVar[bool] = True

    def relation(self, set_type: DistributionSetType):
        return set_type.mandatory_types if self.mandatory else set_type.optional_types


class SetTypeModuleTypesView(_ModuleTypesOfSetType):
    """``mandatorymoduletypes`` / ``optionalmoduletypes``: plain arrays, as hawkBit answers."""

    required_permissions = {"GET": ["READ_DISTRIBUTION_SET_TYPE"], "POST": ["UPDATE_DISTRIBUTION_SET_TYPE"]}

    def get(self, request: Request, pk: int) -> Response:
        types = self.relation(_set_type(pk)).order_by("pk")
        return Response([representations.module_type(request, item) for item in types])

    def post(self, request: Request, pk: int) -> Response:
        set_type = _set_type(pk)
        module_type_id = entity_id(request.data, "")
        services.set_type_add_module_type(
            set_type=set_type, module_type_id=module_type_id, mandatory=self.mandatory
        )
        return Response(status=204)


class SetTypeModuleTypeView(_ModuleTypesOfSetType):
    required_permissions = {"GET": ["READ_DISTRIBUTION_SET_TYPE"], "DELETE": ["UPDATE_DISTRIBUTION_SET_TYPE"]}

    def get(self, request: Request, pk: int, type_id: int) -> Response:
        set_type = _set_type(pk)
        kind = "mandatory" if self.mandatory else "optional"
        found = get_or_404(
            self.relation(set_type).all(), type_id, f"{kind} software module type of {set_type.key}"
        )
        return Response(representations.module_type(request, found))

    def delete(self, request: Request, pk: int, type_id: int) -> Response:
        services.set_type_remove_module_type(
            set_type=_set_type(pk), module_type_id=type_id, mandatory=self.mandatory
        )
        return Response(status=204)
