"""Reads from the software repository."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Prefetch, Q, QuerySet

from devices.models import Hardware
from software.models import (
    Artifact,
    DistributionSetType,
    ReleaseTag,
    Software,
    SoftwareModule,
    SoftwareModuleMetadata,
    SoftwareModuleType,
)

# hawkBit's tenant default distribution set type: a release created without one gets it.
DEFAULT_SET_TYPE = "os_app"


def software_list() -> QuerySet[Software]:
    """Every release, newest first, with compatibility, modules and artifacts prefetched."""
    return Software.objects.prefetch_related(
        "compatibility",
        "modules__type",
        "modules__artifacts",
        Prefetch("tags", queryset=ReleaseTag.objects.order_by("name")),
    ).order_by("-created", "-pk")


def distribution_set_type_default() -> DistributionSetType | None:
    return DistributionSetType.objects.filter(key=DEFAULT_SET_TYPE, deleted=False).first()


def distribution_set_type_default_for(*, module_type_ids: set[int]) -> DistributionSetType | None:
    """The default type for a release of modules of these types, or None when they do not fit it.

    Releases made outside /rest/v1 (admin, /api/v1, uploads) name no type: they get the default
    where their modules fit it and stay untyped (unrestricted) where they hold other types.
    """
    default = distribution_set_type_default()
    if default is None:
        return None
    allowed = {
        *default.mandatory_types.values_list("pk", flat=True),
        *default.optional_types.values_list("pk", flat=True),
    }
    return default if module_type_ids <= allowed else None


def software_get(*, pk: int) -> Software | None:
    return Software.objects.filter(pk=pk).first()


def software_compatible_with(*, hardware: Hardware | None) -> QuerySet[Software]:
    """Software that lists exactly this hardware (model and revision) as compatible.

    Ordering by version is the caller's business: versions compare by
    goosebit_project.lib.versions, which SQL cannot do.
    """
    if hardware is None:
        return Software.objects.none()
    return Software.objects.filter(compatibility=hardware, deleted=False).order_by("-created", "-pk")


def software_is_compatible(*, software: Software, hardware: Hardware | None) -> bool:
    return hardware is not None and software.compatibility.filter(pk=hardware.pk).exists()


@dataclass(frozen=True)
class ArtifactRef:
    """What a deployment says about one artifact (the DDI artifact shape), read without models."""

    module_id: int
    filename: str
    size: int
    sha1: str
    md5: str
    sha256: str


@dataclass(frozen=True)
class ModuleChunk:
    """What a deployment says about one module: one DDI chunk."""

    type_key: str
    name: str
    version: str
    encrypted: bool
    artifacts: list[ArtifactRef] = field(default_factory=list)
    visible_metadata: list[tuple[str, str]] = field(default_factory=list)


@functools.cache
def _chunk_sql() -> tuple[str, str]:
    """The two deployment queries, built once per process (table names do not change)."""
    module = SoftwareModule._meta.db_table
    through = Software.modules.through._meta.db_table
    module_type = SoftwareModuleType._meta.db_table
    artifact = Artifact._meta.db_table
    metadata = SoftwareModuleMetadata._meta.db_table
    chunks = (
        f"SELECT m.id, t.key, m.name, m.version, m.encrypted, a.filename, a.size, a.sha1, a.md5, a.sha256"
        f" FROM {through} r JOIN {module} m ON m.id = r.softwaremodule_id"
        f" JOIN {module_type} t ON t.id = m.type_id LEFT JOIN {artifact} a ON a.module_id = m.id"
        f" WHERE r.software_id = %s ORDER BY m.id, a.id"
    )
    visible = (
        f"SELECT d.module_id, d.key, d.value FROM {through} r JOIN {metadata} d"
        f" ON d.module_id = r.softwaremodule_id WHERE r.software_id = %s AND d.target_visible"
        f" ORDER BY d.key"
    )
    return chunks, visible


def release_chunks(*, software_id: int) -> list[ModuleChunk]:
    """A release's modules in a fixed order with their artifacts and target-visible metadata.

    Two plain SQL queries whatever the release holds, and no model instances: every
    deploymentBase of every device asks this, and compiling the equivalent ORM queries cost more
    than running them (tests/ddi/test_modules.py checks the result against the models).
    """
    chunks_sql, visible_sql = _chunk_sql()
    chunks: dict[int, ModuleChunk] = {}
    with connection.cursor() as cursor:
        cursor.execute(chunks_sql, [software_id])
        for pk, type_key, name, version, encrypted, filename, size, sha1, md5, sha256 in cursor.fetchall():
            chunk = chunks.get(pk)
            if chunk is None:
                chunk = chunks[pk] = ModuleChunk(type_key, name, version, bool(encrypted))
            if filename is not None:
                chunk.artifacts.append(ArtifactRef(pk, filename, size, sha1, md5, sha256))
        if chunks:
            cursor.execute(visible_sql, [software_id])
            for module_id, key, value in cursor.fetchall():
                chunks[module_id].visible_metadata.append((key, value))
    return list(chunks.values())


def module_artifact(*, module_id: int, filename: str) -> Artifact | None:
    return Artifact.objects.filter(module_id=module_id, filename=filename).first()


def module_artifacts(*, module_id: int) -> list[Artifact]:
    return list(Artifact.objects.filter(module_id=module_id).order_by("pk"))


# hawkBit's soft_deleted_mode for lists: soft-deleted rows are hidden unless asked for.
SOFT_DELETED_MODES = ("EXCLUDE_SOFT_DELETED", "INCLUDE_SOFT_DELETED", "ONLY_SOFT_DELETED")


def _by_deleted(queryset: QuerySet, mode: str) -> QuerySet:
    if mode == "ONLY_SOFT_DELETED":
        return queryset.filter(deleted=True)
    if mode == "INCLUDE_SOFT_DELETED":
        return queryset
    return queryset.filter(deleted=False)


def module_types_list(*, deleted_mode: str = "EXCLUDE_SOFT_DELETED") -> QuerySet[SoftwareModuleType]:
    return _by_deleted(SoftwareModuleType.objects.all(), deleted_mode)


def set_types_list(*, deleted_mode: str = "EXCLUDE_SOFT_DELETED") -> QuerySet[DistributionSetType]:
    return _by_deleted(DistributionSetType.objects.all(), deleted_mode)


def _module_locked() -> ExpressionWrapper:
    """A module is locked by an operator, or once a release holding it was offered to a device."""
    offered = Exists(Software.objects.filter(modules=OuterRef("pk"), actions__isnull=False))
    return ExpressionWrapper(Q(locked=True) | Q(offered), output_field=BooleanField())


def modules_list(*, deleted_mode: str = "EXCLUDE_SOFT_DELETED") -> QuerySet[SoftwareModule]:
    """Modules with their type and ``is_locked``; soft-deleted ones as ``deleted_mode`` says."""
    modules = SoftwareModule.objects.select_related("type").annotate(is_locked=_module_locked())
    return _by_deleted(modules, deleted_mode)


def releases_list(*, deleted_mode: str = "EXCLUDE_SOFT_DELETED") -> QuerySet[Software]:
    """Releases with type, modules and ``is_locked`` (by an operator, offered to devices or used
    by a rollout)."""
    # Through the reverse relations of actions and rollouts: software never imports rollouts.
    locked = (
        Q(locked=True)
        | Q(Exists(Software.objects.filter(pk=OuterRef("pk"), actions__isnull=False)))
        | Q(Exists(Software.objects.filter(pk=OuterRef("pk"), rollouts__isnull=False)))
    )
    releases = (
        Software.objects.select_related("type")
        .prefetch_related(
            Prefetch("modules", queryset=modules_list(deleted_mode="INCLUDE_SOFT_DELETED").order_by("pk")),
            "type__mandatory_types",
        )
        .annotate(is_locked=ExpressionWrapper(locked, output_field=BooleanField()))
    )
    return _by_deleted(releases, deleted_mode)
