"""Software module types and distribution set types (hawkBit's two type catalogues).

A module type says what a module is (its key is the deployment chunk's ``part``) and how many
of it one release may hold. A distribution set type says which module types a release must hold
(mandatory) and may hold (optional). Keys and names are fixed once created, as in hawkBit: devices
and scripts read them; description and colour may change. A type still in use is only marked
deleted (hawkBit's soft delete): existing modules and releases keep it, new ones cannot use it.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from software.exceptions import SoftwareConflict, SoftwareError, SoftwareNotFound, TypeInUse
from software.models import DistributionSetType, SoftwareModuleType

__all__ = [
    "module_type_create",
    "module_type_delete",
    "module_type_update",
    "set_type_add_module_type",
    "set_type_create",
    "set_type_delete",
    "set_type_remove_module_type",
    "set_type_update",
]

_MAX_ASSIGNMENTS = 2**31 - 1  # hawkBit's maxAssignments is an int
_KEY = re.compile(r"[^\s/\\]+")
_COLOUR_LIMIT = 16


def _text(what: str, value: str | None, *, required: bool, limit: int) -> str:
    text = (value or "").strip()
    if required and not text:
        raise SoftwareError(f"a {what} is required")
    if len(text) > limit:
        raise SoftwareError(f"the {what} is longer than {limit} characters")
    if not text.isprintable():
        raise SoftwareError(f"the {what} must not contain control characters")
    return text


def _key(value: str, *, limit: int = 64) -> str:
    key = _text("key", value, required=True, limit=limit)
    if not _KEY.fullmatch(key):
        raise SoftwareError(f"the key {key[:64]!r} must not contain spaces or slashes")
    return key


def module_type_create(
    *, key: str, name: str, max_assignments: int, description: str = "", colour: str = ""
) -> SoftwareModuleType:
    """A new module type; key and name must be unused (409 otherwise, as in hawkBit)."""
    key = _key(key)
    name = _text("name", name, required=True, limit=128)
    if not 1 <= max_assignments <= _MAX_ASSIGNMENTS:
        raise SoftwareError(f"maxAssignments must be between 1 and {_MAX_ASSIGNMENTS}")
    if SoftwareModuleType.objects.filter(key=key).exists():
        raise SoftwareConflict(f"a software module type with key {key!r} exists already")
    if SoftwareModuleType.objects.filter(name=name).exists():
        raise SoftwareConflict(f"a software module type named {name!r} exists already")
    try:
        with transaction.atomic():
            return SoftwareModuleType.objects.create(
                key=key,
                name=name,
                max_assignments=max_assignments,
                description=_text("description", description, required=False, limit=4000),
                colour=_text("colour", colour, required=False, limit=_COLOUR_LIMIT),
            )
    except IntegrityError:
        raise SoftwareConflict(f"a software module type with key {key!r} exists already") from None


def module_type_update(
    *, module_type: SoftwareModuleType, description: str | None = None, colour: str | None = None
) -> SoftwareModuleType:
    if description is not None:
        module_type.description = _text("description", description, required=False, limit=4000)
    if colour is not None:
        module_type.colour = _text("colour", colour, required=False, limit=_COLOUR_LIMIT)
    module_type.save(update_fields=["description", "colour"])
    return module_type


def module_type_delete(*, module_type: SoftwareModuleType) -> bool:
    """Delete a module type; True when it was only marked deleted because something uses it."""
    in_use = (
        module_type.modules.exists() or module_type.mandatory_in.exists() or module_type.optional_in.exists()
    )
    if in_use:
        if not module_type.deleted:
            module_type.deleted = True
            module_type.save(update_fields=["deleted"])
        return True
    module_type.delete()
    return False


def _module_types(ids: list[int]) -> list[SoftwareModuleType]:
    found = {item.pk: item for item in SoftwareModuleType.objects.filter(pk__in=ids)}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise SoftwareNotFound(f"there is no software module type with id {missing[0]}")
    deleted = [item for item in found.values() if item.deleted]
    if deleted:
        raise SoftwareError(f"software module type {deleted[0].key} is deleted")
    return [found[pk] for pk in dict.fromkeys(ids)]


@transaction.atomic
def set_type_create(
    *,
    key: str,
    name: str,
    description: str = "",
    colour: str = "",
    mandatory: list[int] | None = None,
    optional: list[int] | None = None,
) -> DistributionSetType:
    """A new distribution set type; ``mandatory``/``optional`` are module type ids."""
    key = _key(key)
    name = _text("name", name, required=True, limit=128)
    if DistributionSetType.objects.filter(key=key).exists():
        raise SoftwareConflict(f"a distribution set type with key {key!r} exists already")
    if DistributionSetType.objects.filter(name=name).exists():
        raise SoftwareConflict(f"a distribution set type named {name!r} exists already")
    mandatory_types = _module_types(list(mandatory or []))
    optional_types = _module_types(list(optional or []))
    both = {item.pk for item in mandatory_types} & {item.pk for item in optional_types}
    if both:
        raise SoftwareError(f"software module type {min(both)} cannot be both mandatory and optional")
    set_type = DistributionSetType.objects.create(
        key=key,
        name=name,
        description=_text("description", description, required=False, limit=4000),
        colour=_text("colour", colour, required=False, limit=_COLOUR_LIMIT),
    )
    set_type.mandatory_types.set(mandatory_types)
    set_type.optional_types.set(optional_types)
    return set_type


def set_type_update(
    *, set_type: DistributionSetType, description: str | None = None, colour: str | None = None
) -> DistributionSetType:
    if description is not None:
        set_type.description = _text("description", description, required=False, limit=4000)
    if colour is not None:
        set_type.colour = _text("colour", colour, required=False, limit=_COLOUR_LIMIT)
    set_type.save(update_fields=["description", "colour"])
    return set_type


def _check_unused(set_type: DistributionSetType) -> None:
    if set_type.releases.exists():
        raise TypeInUse(
            f"distribution set type {set_type.key} is used by releases: its module types stay as they are"
        )


@transaction.atomic
def set_type_add_module_type(
    *, set_type: DistributionSetType, module_type_id: int, mandatory: bool
) -> DistributionSetType:
    """Make a module type mandatory or optional in a type no release uses yet."""
    _check_unused(set_type)
    (module_type,) = _module_types([module_type_id])
    set_type.mandatory_types.remove(module_type)
    set_type.optional_types.remove(module_type)
    (set_type.mandatory_types if mandatory else set_type.optional_types).add(module_type)
    return set_type


@transaction.atomic
def set_type_remove_module_type(
    *, set_type: DistributionSetType, module_type_id: int, mandatory: bool
) -> DistributionSetType:
    _check_unused(set_type)
    relation = set_type.mandatory_types if mandatory else set_type.optional_types
    if not relation.filter(pk=module_type_id).exists():
        kind = "mandatory" if mandatory else "optional"
        raise SoftwareNotFound(f"{set_type.key} has no {kind} software module type with id {module_type_id}")
    relation.remove(module_type_id)
    return set_type


def set_type_delete(*, set_type: DistributionSetType) -> bool:
    """Delete a distribution set type; True when it was only marked deleted (releases use it)."""
    if set_type.releases.exists():
        if not set_type.deleted:
            set_type.deleted = True
            set_type.save(update_fields=["deleted"])
        return True
    set_type.delete()
    return False
