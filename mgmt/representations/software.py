"""hawkBit's JSON for the software resources: module types, modules, artifacts, metadata,
distribution sets and their types (hawkbit-mgmt-api json/model, field for field).

Our models know who created nothing and when nothing was last modified, so ``createdBy``,
``lastModifiedBy`` and ``lastModifiedAt`` are left out (hawkBit's NON_NULL); ``createdAt`` is
the row's creation time. ``locked`` is derived: a release is locked once devices were offered it
or a rollout uses it, a module once a release holding it was offered.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from mgmt.views.base import link, millis, without_none
from software.models import (
    Artifact,
    DistributionSetType,
    ReleaseMetadata,
    Software,
    SoftwareModule,
    SoftwareModuleMetadata,
    SoftwareModuleType,
)

PAGE_QUERY = "offset=0&limit=50"


def module_type(request: Request, item: SoftwareModuleType) -> dict[str, Any]:
    return without_none(
        {
            "id": item.pk,
            "key": item.key,
            "name": item.name,
            "description": item.description,
            "colour": item.colour or None,
            "deleted": item.deleted,
            "maxAssignments": item.max_assignments,
            # We require no artifacts of a module (hawkBit's default, 0).
            "minArtifacts": 0,
            "createdAt": millis(item.created),
            "lastModifiedAt": millis(item.updated),
            "_links": {"self": link(request, "softwaremoduletype", item.pk)},
        }
    )


def module(request: Request, item: SoftwareModule, *, embedded: bool = False) -> dict[str, Any]:
    """A module; ``item.is_locked`` comes from software.selectors' annotation when listed."""
    links = {"self": link(request, "softwaremodule", item.pk)}
    if not embedded:
        links["artifacts"] = link(request, "softwaremodule-artifacts", item.pk)
        links["type"] = link(request, "softwaremoduletype", item.type_id)
        links["metadata"] = link(request, "softwaremodule-metadata-list", item.pk, query=PAGE_QUERY)
    return without_none(
        {
            "id": item.pk,
            "name": item.name,
            "description": item.description,
            "version": item.version,
            "type": item.type.key,
            "typeName": item.type.name,
            "vendor": item.vendor,
            "encrypted": item.encrypted,
            "locked": bool(getattr(item, "is_locked", False)),
            "deleted": item.deleted,
            "complete": True,
            "createdAt": millis(item.created),
            "lastModifiedAt": millis(item.updated),
            "_links": links,
        }
    )


def artifact(request: Request, item: Artifact, *, links: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": item.pk,
        "hashes": {"sha1": item.sha1, "md5": item.md5, "sha256": item.sha256},
        "providedFilename": item.filename,
        "size": item.size,
        "createdAt": millis(item.created),
        "lastModifiedAt": millis(item.updated),
    }
    if links:
        body["_links"] = {
            "self": link(request, "softwaremodule-artifact", item.module_id, item.pk),
            "download": link(request, "softwaremodule-artifact-download", item.module_id, item.pk),
        }
    return body


def module_metadata(item: SoftwareModuleMetadata) -> dict[str, Any]:
    return {"key": item.key, "value": item.value, "targetVisible": item.target_visible}


def release_metadata(item: ReleaseMetadata) -> dict[str, Any]:
    return {"key": item.key, "value": item.value}


def set_type(request: Request, item: DistributionSetType) -> dict[str, Any]:
    return without_none(
        {
            "id": item.pk,
            "key": item.key,
            "name": item.name,
            "description": item.description,
            "colour": item.colour or None,
            "deleted": item.deleted,
            "createdAt": millis(item.created),
            "lastModifiedAt": millis(item.updated),
            "_links": {
                "self": link(request, "distributionsettype", item.pk),
                "mandatorymodules": link(request, "distributionsettype-mandatory", item.pk),
                "optionalmodules": link(request, "distributionsettype-optional", item.pk),
            },
        }
    )


def _complete(release: Software, set_type: DistributionSetType | None, modules: list[SoftwareModule]) -> bool:
    """hawkBit: a set is complete when it holds a module of every mandatory type of its type."""
    if set_type is None:
        return bool(modules)
    held = {item.type_id for item in modules}
    return all(required.pk in held for required in set_type.mandatory_types.all())


def distribution_set(request: Request, item: Software) -> dict[str, Any]:
    """A release as hawkBit's distribution set. A release made outside /rest/v1 with modules of
    types the default set type does not allow has no type: ``type``/``typeName`` are left out."""
    set_type_ = item.type
    modules = list(item.modules.all())
    links = {
        "self": link(request, "distributionset", item.pk),
        "modules": link(request, "distributionset-assignedsm", item.pk, query=PAGE_QUERY),
    }
    if set_type_ is not None:
        links["type"] = link(request, "distributionsettype", set_type_.pk)
    links["metadata"] = link(request, "distributionset-metadata-list", item.pk, query=PAGE_QUERY)
    return without_none(
        {
            "id": item.pk,
            "name": item.name,
            "description": item.description,
            "version": item.version,
            "type": set_type_.key if set_type_ else None,
            "typeName": set_type_.name if set_type_ else None,
            "modules": [module(request, entry, embedded=True) for entry in modules],
            "complete": _complete(item, set_type_, modules),
            "locked": bool(getattr(item, "is_locked", False)),
            "deleted": item.deleted,
            # We have no invalidation and no migration steps (hawkBit's defaults).
            "valid": True,
            "requiredMigrationStep": False,
            "createdAt": millis(item.created),
            "lastModifiedAt": millis(item.updated),
            "_links": links,
        }
    )
