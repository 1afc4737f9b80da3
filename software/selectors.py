"""Reads from the software repository."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

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


def release_modules(*, software: Software) -> list[SoftwareModule]:
    """A release's modules in a fixed order, with type, artifacts and target-visible metadata
    loaded in a fixed number of queries (a deployment lists them all)."""
    visible = SoftwareModuleMetadata.objects.filter(target_visible=True).order_by("key")
    return list(
        software.modules.select_related("type")
        .prefetch_related("artifacts", Prefetch("metadata", queryset=visible, to_attr="visible_metadata"))
        .order_by("pk")
    )


def module_artifact(*, module_id: int, filename: str) -> Artifact | None:
    return Artifact.objects.filter(module_id=module_id, filename=filename).first()


def module_artifacts(*, module_id: int) -> list[Artifact]:
    return list(Artifact.objects.filter(module_id=module_id).order_by("pk"))
