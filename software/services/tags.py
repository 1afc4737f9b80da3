"""Release tags (hawkBit's distribution set tags): the rules of devices.services.tags, on releases."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from devices.services.tags import (
    MAX_TAG_BATCH,
    tag_create,
    tag_get_or_create,
    tag_link,
    tag_unlink,
    tag_update,
)
from goosebit_project.lib.errors import InvalidInput, NotFound
from software.models import ReleaseTag, Software


def _release_pks(release_ids: Any) -> list[int]:
    """The listed releases (soft-deleted ones too: hawkBit tags those), checked in one query."""
    if not isinstance(release_ids, list | tuple):
        raise InvalidInput("releases must be a list")
    if len(release_ids) > MAX_TAG_BATCH:
        raise InvalidInput(f"at most {MAX_TAG_BATCH} releases at once, got {len(release_ids)}")
    if not all(isinstance(pk, int) and not isinstance(pk, bool) for pk in release_ids):
        raise InvalidInput("releases must be a list of release ids (numbers)")
    ids = list(dict.fromkeys(release_ids))
    found = set(
        Software.objects.filter(pk__in=[pk for pk in ids if 0 < pk < 2**63]).values_list("pk", flat=True)
    )
    missing = [pk for pk in ids if pk not in found]
    if missing:
        shown = ", ".join(str(pk) for pk in missing[:5])
        raise NotFound(
            f"no release with id {shown}" + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        )
    return ids


def release_tag_create(*, name: Any, description: Any = "", colour: Any = "") -> ReleaseTag:
    return tag_create(ReleaseTag, name=name, description=description, colour=colour)


def release_tag_get_or_create(*, name: Any) -> tuple[ReleaseTag, bool]:
    return tag_get_or_create(ReleaseTag, name=name)


def release_tag_update(
    *, tag: ReleaseTag, name: Any = None, description: Any = None, colour: Any = None
) -> ReleaseTag:
    return tag_update(tag, name=name, description=description, colour=colour)


def release_tag_delete(*, tag: ReleaseTag) -> None:
    """Deletes the tag; the releases stay, without it."""
    tag.delete()


def release_tag_assign(*, tag: ReleaseTag, release_ids: Any) -> int:
    """Tags every listed release (an unknown id refuses the lot); how many were new."""
    return tag_link(tag, Software, _release_pks(release_ids))


def release_tag_unassign(*, tag: ReleaseTag, release_ids: Any) -> int:
    return tag_unlink(tag, Software, _release_pks(release_ids))


def release_tag_assign_releases(*, tag: ReleaseTag, releases: QuerySet[Software]) -> int:
    """Tags every release of the queryset (the admin's selection, "select all" included)."""
    return tag_link(tag, Software, list(releases.values_list("pk", flat=True)))


def release_tag_unassign_releases(*, tag: ReleaseTag, releases: QuerySet[Software]) -> int:
    return tag_unlink(tag, Software, list(releases.values_list("pk", flat=True)))
