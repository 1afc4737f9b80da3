"""Reads from the software repository."""

from __future__ import annotations

from django.db.models import QuerySet

from devices.models import Hardware
from software.models import Software


def software_list() -> QuerySet[Software]:
    """Every software, newest first, with compatibility prefetched (API and admin lists)."""
    return Software.objects.prefetch_related("compatibility").order_by("-created", "-pk")


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
