"""Reads from the software repository."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from devices.models import Hardware
from software.models import Artifact, Software, SoftwareModule, SoftwareModuleMetadata


def software_list() -> QuerySet[Software]:
    """Every release, newest first, with compatibility, modules and artifacts prefetched."""
    return Software.objects.prefetch_related("compatibility", "modules__type", "modules__artifacts").order_by(
        "-created", "-pk"
    )


def software_get(*, pk: int) -> Software | None:
    return Software.objects.filter(pk=pk).first()


def software_compatible_with(*, hardware: Hardware | None) -> QuerySet[Software]:
    """Software that lists exactly this hardware (model and revision) as compatible.

    Ordering by version is the caller's business: versions compare by
    goosebit_project.lib.versions, which SQL cannot do.
    """
    if hardware is None:
        return Software.objects.none()
    return Software.objects.filter(compatibility=hardware).order_by("-created", "-pk")


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


def release_chunks(*, software_id: int) -> list[ModuleChunk]:
    """A release's modules in a fixed order with their artifacts and target-visible metadata.

    Two queries whatever the release holds, and no model instances: every deploymentBase of
    every device asks this (modules LEFT JOIN artifacts; then the visible metadata).
    """
    rows = (
        SoftwareModule.objects.filter(releases=software_id)
        .order_by("pk", "artifacts__pk")
        .values_list(
            "pk",
            "type__key",
            "name",
            "version",
            "encrypted",
            "artifacts__filename",
            "artifacts__size",
            "artifacts__sha1",
            "artifacts__md5",
            "artifacts__sha256",
        )
    )
    chunks: dict[int, ModuleChunk] = {}
    for pk, type_key, name, version, encrypted, filename, size, sha1, md5, sha256 in rows:
        chunk = chunks.get(pk)
        if chunk is None:
            chunk = chunks[pk] = ModuleChunk(type_key, name, version, encrypted)
        if filename is not None:
            chunk.artifacts.append(ArtifactRef(pk, filename, size, sha1, md5, sha256))
    if chunks:
        visible = SoftwareModuleMetadata.objects.filter(module__in=list(chunks), target_visible=True)
        for module_id, key, value in visible.order_by("key").values_list("module_id", "key", "value"):
            chunks[module_id].visible_metadata.append((key, value))
    return list(chunks.values())


def module_artifact(*, module_id: int, filename: str) -> Artifact | None:
    return Artifact.objects.filter(module_id=module_id, filename=filename).first()


def module_artifacts(*, module_id: int) -> list[Artifact]:
    return list(Artifact.objects.filter(module_id=module_id).order_by("pk"))
