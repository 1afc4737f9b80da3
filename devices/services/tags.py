"""Tags: operators' labels on devices (hawkBit's target tags) and the rules every kind of tag shares.

A tag's name is trimmed and unique; hawkBit's lengths bound its fields. Assigning and removing
work in bulk: one query resolves the devices, one statement adds (or removes) every link, so
tagging a thousand devices costs what tagging one does. software.services.tags uses the same
rules for release tags.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction

from devices.models import Device, DeviceTag
from devices.services import MAX_CONTROLLER_ID_LENGTH
from goosebit_project.lib.errors import Conflict, InvalidInput, NotFound

T = TypeVar("T", bound=models.Model)

MAX_TAG_NAME_LENGTH = 128
MAX_TAG_DESCRIPTION_LENGTH = 512
MAX_TAG_COLOUR_LENGTH = 16
# One bulk request; hawkBit's clients send far fewer.
MAX_TAG_BATCH = 10_000


def _text(value: Any, field: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string")
    if "\x00" in value:
        raise InvalidInput(f"{field} must not contain NUL characters")
    value = value.strip()
    if len(value) > max_length:
        raise InvalidInput(f"{field} is at most {max_length} characters, got {len(value)}")
    return value


def tag_fields(*, name: Any = None, description: Any = None, colour: Any = None) -> dict[str, str]:
    """The given fields, checked and trimmed (None: not given); a given name must not be blank."""
    fields: dict[str, str] = {}
    if name is not None:
        fields["name"] = _text(name, "name", MAX_TAG_NAME_LENGTH)
        if not fields["name"]:
            raise InvalidInput("name must not be empty")
    if description is not None:
        fields["description"] = _text(description, "description", MAX_TAG_DESCRIPTION_LENGTH)
    if colour is not None:
        fields["colour"] = _text(colour, "colour", MAX_TAG_COLOUR_LENGTH)
    return fields


def _save_tag(tag: T, fields: dict[str, str], *, creating: bool) -> T:
    model = type(tag)
    name = fields.get("name")
    if name is not None and model._default_manager.filter(name=name).exclude(pk=tag.pk).exists():
        raise Conflict(f"a tag named {name!r} already exists")
    for key, value in fields.items():
        setattr(tag, key, value)
    try:
        with transaction.atomic():
            tag.save(force_insert=creating)
    except IntegrityError as exc:  # a concurrent create of the same name
        raise Conflict(f"a tag named {name!r} already exists") from exc
    return tag


def tag_create(model: type[T], *, name: Any, description: Any = "", colour: Any = "") -> T:
    if name is None:
        raise InvalidInput("name is required")
    fields = tag_fields(name=name, description=description or "", colour=colour or "")
    return _save_tag(model(), fields, creating=True)


def tag_get_or_create(model: type[T], *, name: Any) -> tuple[T, bool]:
    """The tag of that (trimmed) name, created if new (the admin's "Add tag…"); and whether it was."""
    if name is None:
        raise InvalidInput("name is required")
    clean = tag_fields(name=name)["name"]
    existing = model._default_manager.filter(name=clean).first()
    if existing is not None:
        return existing, False
    try:
        return _save_tag(model(), {"name": clean}, creating=True), True
    except Conflict:  # created concurrently: use that one
        return model._default_manager.get(name=clean), False


def tag_update(tag: T, *, name: Any = None, description: Any = None, colour: Any = None) -> T:
    """Change the given fields; None leaves a field as it is."""
    fields = tag_fields(name=name, description=description, colour=colour)
    return _save_tag(tag, fields, creating=False) if fields else tag


def _through(target_model: type[models.Model]) -> tuple[Any, str, str]:
    """The auto-created through model of ``target_model.tags`` and its two column names."""
    field = target_model._meta.get_field("tags")
    through = field.remote_field.through  # type: ignore[union-attr]
    return through, field.m2m_column_name(), field.m2m_reverse_name()  # type: ignore[union-attr]


def tag_link(tag: models.Model, target_model: type[models.Model], target_pks: list[int]) -> int:
    """Adds the tag to every target in one INSERT (already tagged ones stay); how many were new."""
    through, target_column, tag_column = _through(target_model)
    already = set(
        through.objects.filter(**{tag_column: tag.pk, f"{target_column}__in": target_pks}).values_list(
            target_column, flat=True
        )
    )
    new = [pk for pk in dict.fromkeys(target_pks) if pk not in already]
    through.objects.bulk_create(
        [through(**{tag_column: tag.pk, target_column: pk}) for pk in new], ignore_conflicts=True
    )
    return len(new)


def tag_unlink(tag: models.Model, target_model: type[models.Model], target_pks: list[int]) -> int:
    """Removes the tag from every target in one DELETE; how many had it."""
    through, target_column, tag_column = _through(target_model)
    deleted, _ = through.objects.filter(**{tag_column: tag.pk, f"{target_column}__in": target_pks}).delete()
    return deleted


def _batch(values: Any, what: str) -> list[Any]:
    if not isinstance(values, list | tuple):
        raise InvalidInput(f"{what} must be a list")
    if len(values) > MAX_TAG_BATCH:
        raise InvalidInput(f"at most {MAX_TAG_BATCH} {what} at once, got {len(values)}")
    return list(values)


def queryable_controller_ids(ids: list[str]) -> list[str]:
    """The ids a device could have: a NUL (which PostgreSQL refuses in a query) or an overlong id
    matches no device, so it is not sent to the database."""
    return [cid for cid in ids if "\x00" not in cid and len(cid) <= MAX_CONTROLLER_ID_LENGTH]


def _device_pks(controller_ids: Any) -> list[int]:
    """The devices' primary keys, in one query; an unknown controller id is refused by name."""
    ids = _batch(controller_ids, "devices")
    if not all(isinstance(cid, str) for cid in ids):
        raise InvalidInput("devices must be a list of device ids (strings)")
    found = dict(
        Device.objects.filter(controller_id__in=queryable_controller_ids(ids)).values_list(
            "controller_id", "pk"
        )
    )
    missing = [cid for cid in dict.fromkeys(ids) if cid not in found]
    if missing:
        shown = ", ".join(repr(cid[:64]) for cid in missing[:5])
        raise NotFound(
            f"no device with id {shown}" + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        )
    return [found[cid] for cid in dict.fromkeys(ids)]


def device_tag_create(*, name: Any, description: Any = "", colour: Any = "") -> DeviceTag:
    return tag_create(DeviceTag, name=name, description=description, colour=colour)


def device_tag_get_or_create(*, name: Any) -> tuple[DeviceTag, bool]:
    return tag_get_or_create(DeviceTag, name=name)


def device_tag_update(
    *, tag: DeviceTag, name: Any = None, description: Any = None, colour: Any = None
) -> DeviceTag:
    return tag_update(tag, name=name, description=description, colour=colour)


def device_tag_delete(*, tag: DeviceTag) -> None:
    """Deletes the tag; the devices stay, without it."""
    tag.delete()


def device_tag_assign(*, tag: DeviceTag, controller_ids: Any) -> int:
    """Tags every listed device (all or none: an unknown id refuses the lot); how many were new."""
    return tag_link(tag, Device, _device_pks(controller_ids))


def device_tag_unassign(*, tag: DeviceTag, controller_ids: Any) -> int:
    """Removes the tag from every listed device; how many had it."""
    return tag_unlink(tag, Device, _device_pks(controller_ids))


def device_tag_assign_devices(*, tag: DeviceTag, devices: models.QuerySet[Device]) -> int:
    """Tags every device of the queryset (the admin's selection, "select all" included)."""
    return tag_link(tag, Device, list(devices.values_list("pk", flat=True)))


def device_tag_unassign_devices(*, tag: DeviceTag, devices: models.QuerySet[Device]) -> int:
    return tag_unlink(tag, Device, list(devices.values_list("pk", flat=True)))
