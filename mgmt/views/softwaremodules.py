"""``/rest/v1/softwaremoduletypes`` and ``/rest/v1/softwaremodules`` (with artifacts and metadata).

Status codes are hawkBit's (MgmtSoftwareModuleResource, MgmtSoftwareModuleTypeResource): 201 on
create (lists in, lists out), 200 on read and update, 204 on delete. A module or type still in
use is soft-deleted (software.services); GET by id still shows it with ``"deleted": true``.
Uploads stream through Django's upload handlers into a temporary file and are hashed while
copied into storage (software.services.module_add_artifact), bounded by GOOSEBIT_MAX_UPLOAD_SIZE.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpResponseBase, UnreadablePostError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from goosebit_project.lib import rsql
from goosebit_project.lib.errors import is_no_space
from mgmt import errors
from mgmt.paging import paged_response
from mgmt.representations import software as representations
from mgmt.views.software_common import (
    CollectionView,
    SoftwareView,
    entry,
    flag,
    get_or_404,
    text,
    whole_number,
)
from software import selectors, services
from software.downloads import serve_artifact
from software.exceptions import PackageTooLarge, StorageFull
from software.models import Artifact, SoftwareModule, SoftwareModuleMetadata, SoftwareModuleType

# hawkBit's SoftwareModuleTypeFields / SoftwareModuleFields (createdBy and lastModified* we lack).
MODULE_TYPE_SORT = {
    "id": "pk",
    "key": "key",
    "name": "name",
    "description": "description",
    "maxAssignments": "max_assignments",
}
MODULE_TYPE_QUERY = {
    "id": rsql.Field("pk", type="number"),
    "key": rsql.Field("key"),
    "name": rsql.Field("name"),
    "description": rsql.Field("description"),
    "maxAssignments": rsql.Field("max_assignments", type="number"),
}
MODULE_SORT = {
    "id": "pk",
    "name": "name",
    "description": "description",
    "version": "version",
    "type": "type__key",
    "vendor": "vendor",
    "createdAt": "created",
}
MODULE_QUERY = {
    "id": rsql.Field("pk", type="number"),
    "type": rsql.Field("type__key"),
    "type.id": rsql.Field("type__pk", type="number"),
    "type.key": rsql.Field("type__key"),
    "type.name": rsql.Field("type__name"),
    "name": rsql.Field("name"),
    "description": rsql.Field("description"),
    "version": rsql.Field("version"),
    "metadata": rsql.Field("metadata", related_key=("metadata__key", "metadata__value")),
    "createdAt": rsql.Field("created", type="timestamp"),
}
METADATA_SORT = {"key": "key", "value": "value"}
METADATA_QUERY = {"key": rsql.Field("key"), "value": rsql.Field("value")}

_MULTIPART_OVERHEAD = 64 * 1024


class _AnyMediaRenderer(JSONRenderer):
    """A download answers with the file whatever the client accepts; errors as JSON."""

    media_type = "*/*"
    format = "bin"


# --- module types ---------------------------------------------------------------------------


class ModuleTypesView(CollectionView):
    required_permissions = {"GET": ["READ_SOFTWARE_MODULE_TYPE"], "POST": ["CREATE_SOFTWARE_MODULE_TYPE"]}
    sort_fields = MODULE_TYPE_SORT
    query_fields = MODULE_TYPE_QUERY

    def items(self, deleted_mode: str) -> QuerySet[SoftwareModuleType]:
        return selectors.module_types_list(deleted_mode=deleted_mode)

    def render(self, request: Request, item: SoftwareModuleType) -> dict[str, Any]:
        return representations.module_type(request, item)

    def create(self, body: dict[str, Any], where: str) -> SoftwareModuleType:
        max_assignments = whole_number(body, "maxAssignments", where=where)
        if whole_number(body, "minArtifacts", where=where) not in (None, 0):
            # We require no artifacts of a module; saying otherwise would be a lie.
            raise errors.bad_request(f"{where}minArtifacts other than 0 is not supported")
        return services.module_type_create(
            key=text(body, "key", required=True, where=where) or "",
            name=text(body, "name", required=True, where=where) or "",
            max_assignments=1 if max_assignments is None else max_assignments,
            description=text(body, "description", where=where) or "",
            colour=text(body, "colour", where=where) or "",
        )


class ModuleTypeView(SoftwareView):
    required_permissions = {
        "GET": ["READ_SOFTWARE_MODULE_TYPE"],
        "PUT": ["UPDATE_SOFTWARE_MODULE_TYPE"],
        "DELETE": ["DELETE_SOFTWARE_MODULE_TYPE"],
    }

    def _type(self, pk: int):
        return get_or_404(
            selectors.module_types_list(deleted_mode="INCLUDE_SOFT_DELETED"), pk, "software module type"
        )

    def get(self, request: Request, pk: int) -> Response:
        return Response(representations.module_type(request, self._type(pk)))

    def put(self, request: Request, pk: int) -> Response:
        module_type = self._type(pk)
        body = self.body_object(request)
        updated = services.module_type_update(
            module_type=module_type, description=text(body, "description"), colour=text(body, "colour")
        )
        return Response(representations.module_type(request, updated))

    def delete(self, request: Request, pk: int) -> Response:
        services.module_type_delete(module_type=self._type(pk))
        return Response(status=204)


# --- modules ---------------------------------------------------------------------------------


def _module(pk: int) -> SoftwareModule:
    return get_or_404(selectors.modules_list(deleted_mode="INCLUDE_SOFT_DELETED"), pk, "software module")


class ModulesView(CollectionView):
    required_permissions = {"GET": ["READ_SOFTWARE_MODULE"], "POST": ["CREATE_SOFTWARE_MODULE"]}
    sort_fields = MODULE_SORT
    query_fields = MODULE_QUERY

    def items(self, deleted_mode: str) -> QuerySet[SoftwareModule]:
        return selectors.modules_list(deleted_mode=deleted_mode)

    def render(self, request: Request, item: SoftwareModule) -> dict[str, Any]:
        return representations.module(request, item)

    def create(self, body: dict[str, Any], where: str) -> SoftwareModule:
        return services.module_create(
            type_key=text(body, "type", required=True, where=where) or "",
            name=text(body, "name", required=True, where=where) or "",
            version=text(body, "version", required=True, where=where) or "",
            vendor=text(body, "vendor", where=where) or "",
            description=text(body, "description", where=where) or "",
            encrypted=bool(flag(body, "encrypted", where=where)),
        )


class ModuleView(SoftwareView):
    required_permissions = {
        "GET": ["READ_SOFTWARE_MODULE"],
        "PUT": ["UPDATE_SOFTWARE_MODULE"],
        "DELETE": ["DELETE_SOFTWARE_MODULE"],
    }

    def get(self, request: Request, pk: int) -> Response:
        return Response(representations.module(request, _module(pk)))

    def put(self, request: Request, pk: int) -> Response:
        module = _module(pk)
        body = self.body_object(request)
        locked = flag(body, "locked")
        with transaction.atomic():
            services.module_update(
                module=module, description=text(body, "description"), vendor=text(body, "vendor")
            )
            if locked is not None:
                services.module_set_locked(module=module, locked=locked)
        return Response(representations.module(request, _module(pk)))

    def delete(self, request: Request, pk: int) -> Response:
        services.module_delete(module=_module(pk))
        return Response(status=204)


# --- artifacts -------------------------------------------------------------------------------


def _artifact(module: SoftwareModule, pk: int) -> Artifact:
    return get_or_404(module.artifacts.all(), pk, f"artifact of software module {module.pk}")


class ArtifactsView(SoftwareView):
    required_permissions = {"GET": ["READ_SOFTWARE_MODULE"], "POST": ["CREATE_SOFTWARE_MODULE"]}
    parser_classes = [MultiPartParser, FormParser]

    def get(self, request: Request, pk: int) -> Response:
        module = _module(pk)
        # hawkBit answers a plain array; links only with representation=full on a live module.
        full = request.query_params.get("representation", "compact").strip().lower() == "full"
        return Response(
            [
                representations.artifact(request, item, links=full and not module.deleted)
                for item in module.artifacts.order_by("pk")
            ]
        )

    def post(self, request: Request, pk: int) -> Response:
        module = _module(pk)
        length = request.META.get("CONTENT_LENGTH") or ""
        limit = settings.GOOSEBIT_MAX_UPLOAD_SIZE
        if length.isdigit() and int(length) > limit + _MULTIPART_OVERHEAD:
            # Refuse before reading a body that is too big anyway.
            raise PackageTooLarge(f"the artifact is larger than the limit of {limit} bytes")
        files, data = self._multipart(request)
        upload = files.get("file")
        if upload is None:
            raise errors.bad_request("file is required: send the artifact as the multipart part 'file'")
        if not upload.size:
            raise errors.bad_request("file is empty")
        filename = data.get("filename") or None
        artifact = services.module_add_artifact(
            module=module,
            file=upload,
            filename=filename if filename is not None else upload.name,
            md5=data.get("md5sum", ""),
            sha1=data.get("sha1sum", ""),
            sha256=data.get("sha256sum", ""),
        )
        return Response(representations.artifact(request, artifact), status=201)

    def _multipart(self, request: Request) -> tuple[Any, Any]:
        try:
            return request.FILES, request.data
        except UnreadablePostError as exc:
            # The client went away mid-upload; remove the partial temporary file.
            for handler in request._request.upload_handlers:
                handler.upload_interrupted()
            raise errors.bad_request(f"the upload broke off: {exc}") from None
        except OSError as exc:
            for handler in request._request.upload_handlers:
                handler.upload_interrupted()
            if is_no_space(exc):
                raise StorageFull("no space left in the temporary upload folder") from None
            raise


class ArtifactView(SoftwareView):
    required_permissions = {"GET": ["READ_SOFTWARE_MODULE"], "DELETE": ["DELETE_SOFTWARE_MODULE"]}

    def get(self, request: Request, pk: int, artifact_id: int) -> Response:
        return Response(representations.artifact(request, _artifact(_module(pk), artifact_id)))

    def delete(self, request: Request, pk: int, artifact_id: int) -> Response:
        services.artifact_delete(artifact=_artifact(_module(pk), artifact_id))
        return Response(status=204)


class ArtifactDownloadView(SoftwareView):
    required_permissions = {"GET": ["READ_SOFTWARE_MODULE_ARTIFACT"]}
    renderer_classes = [JSONRenderer, _AnyMediaRenderer]

    def get(self, request: Request, pk: int, artifact_id: int) -> HttpResponseBase:
        module = _module(pk)
        if module.deleted:
            raise errors.MgmtError(
                410,
                "hawkbit.server.error.artifact.binaryDeleted",
                "org.eclipse.hawkbit.artifact.exception.ArtifactBinaryNoLongerExistsException",
                f"software module {module.pk} is deleted: its artifacts are no longer served here",
            )
        # Stored files stream with Range/ETag/Content-Disposition; remote ones are a redirect.
        return serve_artifact(request._request, _artifact(module, artifact_id))


# --- metadata --------------------------------------------------------------------------------


def _metadata_entry(module: SoftwareModule, key: str) -> SoftwareModuleMetadata:
    found = module.metadata.filter(key=key).first() if key.isprintable() else None
    if found is None:
        raise errors.not_found(f"software module {module.pk} has no metadata {key[:128]!r}")
    return found


class ModuleMetadataListView(SoftwareView):
    paged = True
    required_permissions = {"GET": ["READ_SOFTWARE_MODULE"], "POST": ["UPDATE_SOFTWARE_MODULE"]}

    def get(self, request: Request, pk: int) -> Response:
        return paged_response(
            request,
            _module(pk).metadata.all(),
            render=representations.module_metadata,
            sort_fields=METADATA_SORT,
            default_sort=["key"],
            query_fields=METADATA_QUERY,
        )

    def post(self, request: Request, pk: int) -> Response:
        module = _module(pk)
        entries = []
        for index, item in enumerate(self.body_list(request)):
            where = f"[{index}]."
            body = entry(item, where)
            entries.append(
                (
                    text(body, "key", required=True, where=where) or "",
                    text(body, "value", where=where) or "",
                    bool(flag(body, "targetVisible", where=where)),
                )
            )
        services.modules_create_metadata(module=module, entries=entries)
        return Response(status=201)


class ModuleMetadataView(SoftwareView):
    required_permissions = {
        "GET": ["READ_SOFTWARE_MODULE"],
        "PUT": ["UPDATE_SOFTWARE_MODULE"],
        "DELETE": ["UPDATE_SOFTWARE_MODULE"],
    }

    def get(self, request: Request, pk: int, key: str) -> Response:
        return Response(representations.module_metadata(_metadata_entry(_module(pk), key)))

    def put(self, request: Request, pk: int, key: str) -> Response:
        module = _module(pk)
        body = self.body_object(request)
        services.module_update_metadata(
            module=module, key=key, value=text(body, "value"), target_visible=flag(body, "targetVisible")
        )
        return Response(status=204)

    def delete(self, request: Request, pk: int, key: str) -> Response:
        services.module_delete_metadata(module=_module(pk), key=key)
        return Response(status=204)
