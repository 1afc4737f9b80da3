"""Composing releases by hand: modules, their artifacts and metadata, releases made of modules.

Package uploads (software.services.intake) create all three at once; these are for everything
else hawkBit's model allows: a release of an OS module plus an application module, a module with
a configuration file and a checksum list, metadata a device reads from its deployment.

A release that was ever offered to a device (it has actions) is locked: its modules and their
artifacts stay as they were, because the device history must keep saying what was installed.
"""

from __future__ import annotations

import functools
import hmac
from collections import Counter
from typing import IO

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from devices.models import Hardware
from software import selectors
from software.exceptions import (
    ChecksumMismatch,
    ModuleTypeNotAllowed,
    SoftwareConflict,
    SoftwareError,
    SoftwareInUse,
    SoftwareLocked,
    SoftwareNotFound,
)
from software.models import (
    Artifact,
    DistributionSetType,
    ReleaseMetadata,
    Software,
    SoftwareModule,
    SoftwareModuleMetadata,
    SoftwareModuleType,
)
from software.services import intake

__all__ = [
    "artifact_delete",
    "module_add_artifact",
    "module_check_unlocked",
    "module_create",
    "module_delete",
    "module_delete_metadata",
    "module_set_metadata",
    "module_update",
    "module_update_metadata",
    "modules_create_metadata",
    "release_add_modules",
    "release_create",
    "release_create_metadata",
    "release_delete",
    "release_delete_metadata",
    "release_remove_module",
    "release_type",
    "release_update",
    "release_update_metadata",
]

_MAX_TEXT = 255
_MAX_METADATA_VALUE = 4000


def _text(what: str, value: str, *, required: bool = True, limit: int = _MAX_TEXT) -> str:
    text = (value or "").strip()
    if required and not text:
        raise SoftwareError(f"a {what} is required")
    if len(text) > limit:
        raise SoftwareError(f"the {what} is longer than {limit} characters")
    if not text.isprintable():
        raise SoftwareError(f"the {what} must not contain control characters")
    return text


def _module_type(key: str) -> SoftwareModuleType:
    key = _text("software module type", key, limit=64)  # before it reaches SQL (PostgreSQL: no NUL)
    module_type = SoftwareModuleType.objects.filter(key=key, deleted=False).first()
    if module_type is None:
        known = ", ".join(
            SoftwareModuleType.objects.filter(deleted=False).order_by("key").values_list("key", flat=True)
        )
        raise SoftwareError(f"there is no software module type {key!r} (known: {known})")
    return module_type


def module_check_unlocked(*, module: SoftwareModule) -> None:
    """Raise SoftwareLocked when ``module`` is locked: by an operator, or because a release
    holding it was offered to a device."""
    if module.locked:
        raise SoftwareLocked(f"module {module} is locked; make a new module version instead")
    used = module.releases.filter(actions__isnull=False).first()
    if used is not None:
        raise SoftwareLocked(
            f"module {module} cannot change: release {used} has been offered to devices; "
            "make a new module version instead"
        )


def module_create(
    *,
    type_key: str,
    name: str,
    version: str,
    vendor: str = "",
    description: str = "",
    encrypted: bool = False,
) -> SoftwareModule:
    module_type = _module_type(type_key)
    name = _text("module name", name)
    version = _text("module version", version)
    if SoftwareModule.objects.filter(type=module_type, name=name, version=version).exists():
        raise SoftwareConflict(f"a {module_type.key} module {name} {version} exists already")
    try:
        with transaction.atomic():
            return SoftwareModule.objects.create(
                type=module_type,
                name=name,
                version=version,
                vendor=_text("vendor", vendor, required=False),
                description=_text("description", description, required=False, limit=4000),
                encrypted=encrypted,
            )
    except IntegrityError:
        raise SoftwareConflict(f"a {module_type.key} module {name} {version} exists already") from None


def module_update(
    *, module: SoftwareModule, description: str | None = None, vendor: str | None = None
) -> SoftwareModule:
    """hawkBit lets description and vendor change at any time; name, version and type never."""
    if description is not None:
        module.description = _text("description", description, required=False, limit=4000)
    if vendor is not None:
        module.vendor = _text("vendor", vendor, required=False)
    module.save(update_fields=["description", "vendor"])
    return module


def module_set_locked(*, module: SoftwareModule, locked: bool) -> SoftwareModule:
    """hawkBit's explicit lock. Unlocking clears the operator's lock only: a module whose release
    was offered to devices stays locked, since devices ran exactly what it holds."""
    if not locked and module.releases.filter(actions__isnull=False).exists():
        raise SoftwareLocked(f"module {module} has been offered to devices: it stays locked")
    if module.locked != locked:
        module.locked = locked
        module.save(update_fields=["locked", "updated"])
    return module


def release_set_locked(*, software: Software, locked: bool) -> Software:
    """hawkBit's explicit lock of a distribution set (see module_set_locked for unlocking)."""
    if not locked and (software.actions.exists() or software.rollouts.exists()):
        raise SoftwareLocked(f"{software} is in use by rollouts or device history: it stays locked")
    if software.locked != locked:
        software.locked = locked
        software.save(update_fields=["locked", "updated"])
    return software


def _has_history(releases: QuerySet[Software] | list[Software]) -> bool:
    # Through the reverse relations of actions and rollouts: software never imports rollouts.
    return (
        Software.objects.filter(pk__in=[release.pk for release in releases])
        .filter(Q(actions__isnull=False) | Q(rollouts__isnull=False))
        .exists()
    )


def module_delete(*, module: SoftwareModule) -> bool:
    """Delete a module; True when it was only marked deleted (soft), False when it is gone.

    A module of a release that device history or a rollout refers to stays, marked deleted
    (hawkBit's soft delete), since that history must keep saying what was installed; its files
    stay too. A module no release holds goes with its artifacts and (once committed) their
    files. A module held only by unused releases is refused: remove it from them first.
    """
    releases = module.releases.all()
    if _has_history(releases):
        if not module.deleted:
            module.deleted = True
            module.save(update_fields=["deleted"])
        return True
    holding = list(releases.order_by("pk")[:3])
    if holding:
        raise SoftwareInUse(
            f"module {module} cannot be deleted: it is part of {', '.join(map(str, holding))}"
        )
    stored = list(module.artifacts.exclude(file="").values_list("file", flat=True))
    with transaction.atomic():
        module.artifacts.all().delete()
        module.delete()
    for name in stored:
        transaction.on_commit(functools.partial(intake._delete_stored_unless_shared, name))
    return False


def _verify_hashes(artifact: Artifact, expected: dict[str, str]) -> None:
    for algorithm, value in expected.items():
        if not value:
            continue
        actual = getattr(artifact, algorithm)
        if not hmac.compare_digest(actual.lower(), value.strip().lower()):
            raise ChecksumMismatch(
                f"the {algorithm} of the upload is {actual}, not {value.strip()[:128]}", algorithm=algorithm
            )


def module_add_artifact(
    *,
    module: SoftwareModule,
    file: IO[bytes],
    filename: str | None = None,
    md5: str = "",
    sha1: str = "",
    sha256: str = "",
    on_progress: intake.ProgressCallback | None = None,
) -> Artifact:
    """Store any file as an artifact of ``module``, hashed while streaming.

    Given checksums are verified (400 on a mismatch); a second file of the same name in the module
    is 409. Package files are parsed for their metadata but not required.
    """
    module_check_unlocked(module=module)
    if module.deleted:
        raise SoftwareError(f"module {module} is deleted: it takes no new artifacts")
    raw_name = filename if filename is not None else (getattr(file, "name", "") or "")
    safe_name = intake.artifact_filename(raw_name)
    if module.artifacts.filter(filename=safe_name).exists():
        raise SoftwareConflict(f"module {module} has an artifact {safe_name} already")
    expected_size = getattr(file, "size", None)
    received = intake._receive(
        file, expected_size=expected_size if isinstance(expected_size, int) else None, on_progress=on_progress
    )
    stored_name = ""
    try:
        artifact = Artifact(
            module=module,
            filename=safe_name,
            size=received.size,
            sha1=received.sha1,
            md5=received.md5,
            sha256=received.sha256,
        )
        _verify_hashes(artifact, {"md5": md5, "sha1": sha1, "sha256": sha256})
        stored_name = intake._store(received, safe_name)
        artifact.file.name = stored_name
        try:
            with transaction.atomic():
                artifact.save()
        except IntegrityError:
            raise SoftwareConflict(f"module {module} has an artifact {safe_name} already") from None
        return artifact
    except BaseException:
        if stored_name:
            intake._delete_stored_unless_shared(stored_name)
        raise
    finally:
        received.path.unlink(missing_ok=True)


def artifact_delete(*, artifact: Artifact) -> None:
    module_check_unlocked(module=artifact.module)
    stored = artifact.file.name
    artifact.delete()
    if stored:
        transaction.on_commit(lambda: intake._delete_stored_unless_shared(stored))


def module_set_metadata(
    *, module: SoftwareModule, key: str, value: str, target_visible: bool = False
) -> SoftwareModuleMetadata:
    key = _text("metadata key", key, limit=128)
    value = _text("metadata value", value, required=False, limit=_MAX_METADATA_VALUE)
    entry, _ = SoftwareModuleMetadata.objects.update_or_create(
        module=module, key=key, defaults={"value": value, "target_visible": target_visible}
    )
    return entry


@transaction.atomic
def modules_create_metadata(
    *, module: SoftwareModule, entries: list[tuple[str, str, bool]]
) -> list[SoftwareModuleMetadata]:
    """Add (key, value, target_visible) entries; a key the module has already is 409 (hawkBit)."""
    keys = [_text("metadata key", key, limit=128) for key, _, _ in entries]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise SoftwareError(f"metadata key {repeated[0]!r} is given more than once")
    existing = sorted(module.metadata.filter(key__in=keys).values_list("key", flat=True))
    if existing:
        raise SoftwareConflict(f"module {module} has metadata {existing[0]!r} already")
    created = [
        SoftwareModuleMetadata(
            module=module,
            key=key,
            value=_text("metadata value", value, required=False, limit=_MAX_METADATA_VALUE),
            target_visible=bool(target_visible),
        )
        for key, (_, value, target_visible) in zip(keys, entries, strict=True)
    ]
    try:
        with transaction.atomic():
            return SoftwareModuleMetadata.objects.bulk_create(created)
    except IntegrityError:
        raise SoftwareConflict(f"module {module} has one of these metadata keys already") from None


def module_update_metadata(
    *, module: SoftwareModule, key: str, value: str | None = None, target_visible: bool | None = None
) -> SoftwareModuleMetadata:
    """Change an existing entry's value and/or visibility (404 when the key does not exist)."""
    key = _text("metadata key", key, limit=128)
    entry = module.metadata.filter(key=key).first()
    if entry is None:
        raise SoftwareNotFound(f"module {module} has no metadata {key!r}")
    if value is not None:
        entry.value = _text("metadata value", value, required=False, limit=_MAX_METADATA_VALUE)
    if target_visible is not None:
        entry.target_visible = bool(target_visible)
    entry.save(update_fields=["value", "target_visible"])
    return entry


def module_delete_metadata(*, module: SoftwareModule, key: str) -> None:
    key = _text("metadata key", key, limit=128)
    deleted, _ = SoftwareModuleMetadata.objects.filter(module=module, key=key).delete()
    if not deleted:
        raise SoftwareNotFound(f"module {module} has no metadata {key!r}")


def _check_module_types(modules: list[SoftwareModule], set_type: DistributionSetType | None = None) -> None:
    """hawkBit's maxAssignments (e.g. one ``os`` module per release) and the release type's
    mandatory and optional module types: a module of another type does not belong in it."""
    deleted = [module for module in modules if module.deleted]
    if deleted:
        raise SoftwareError(f"module {deleted[0]} is deleted: it cannot join a release")
    if set_type is not None:
        types = (*set_type.mandatory_types.all(), *set_type.optional_types.all())
        allowed = {item.pk: item for item in types}
        for module in modules:
            if module.type_id not in allowed:
                keys = ", ".join(sorted(item.key for item in allowed.values())) or "none"
                raise ModuleTypeNotAllowed(
                    f"a release of type {set_type.key} cannot hold the {module.type.key} module {module}; "
                    f"its module types are: {keys}"
                )
    counts = Counter(module.type_id for module in modules)
    for module in modules:
        limit = module.type.max_assignments
        if counts[module.type_id] > limit:
            raise SoftwareError(
                f"a release may hold at most {limit} {module.type.key} module(s); "
                f"{counts[module.type_id]} were given"
            )


def release_type(key: str) -> DistributionSetType:
    """The (not deleted) distribution set type of that key."""
    key = _text("distribution set type", key, limit=64)
    found = DistributionSetType.objects.filter(key=key, deleted=False).first()
    if found is None:
        known = ", ".join(
            DistributionSetType.objects.filter(deleted=False).order_by("key").values_list("key", flat=True)
        )
        raise SoftwareError(f"there is no distribution set type {key!r} (known: {known})")
    return found


@transaction.atomic
def release_create(
    *,
    name: str,
    version: str,
    modules: list[SoftwareModule],
    compatibility: list[Hardware] | None = None,
    description: str = "",
    type_key: str | None = None,
) -> Software:
    """A release made of existing modules; version and hardware clash like a package's would.

    ``type_key`` names its distribution set type, which its modules must fit. Without one the
    release gets the default type (os_app) if its modules fit it, else it stays untyped.
    """
    name = _text("release name", name)
    version = _text("release version", version)
    if type_key is None:
        set_type = selectors.distribution_set_type_default_for(
            module_type_ids={module.type_id for module in modules}
        )
    else:
        set_type = release_type(type_key)
    _check_module_types(modules, set_type)
    hardware = list(compatibility or [])
    list(Hardware.objects.select_for_update().filter(pk__in=[item.pk for item in hardware]).order_by("pk"))
    intake._check_collisions(version, hardware)
    software = Software.objects.create(
        name=name,
        version=version,
        description=_text("description", description, required=False, limit=4000),
        type=set_type,
    )
    software.modules.set(modules)
    software.compatibility.set(hardware)
    return software


@transaction.atomic
def release_update(
    *,
    software: Software,
    name: str | None = None,
    description: str | None = None,
    modules: list[SoftwareModule] | None = None,
    compatibility: list[Hardware] | None = None,
    version: str | None = None,
) -> Software:
    """Rename or describe any release; change its version, modules or hardware only while it is
    unused (devices report versions: one that was offered keeps its version)."""
    if name is not None:
        software.name = _text("release name", name)
    if description is not None:
        software.description = _text("description", description, required=False, limit=4000)
    software.save(update_fields=["name", "description"])
    if version is not None and _text("release version", version) != software.version:
        _check_release_unlocked(software)
        software.version = _text("release version", version)
        intake._check_collisions(software.version, list(software.compatibility.all()), exclude=software)
        software.save(update_fields=["version"])
    if modules is None and compatibility is None:
        return software
    _check_release_unlocked(software)
    if modules is not None:
        _check_module_types(modules, software.type)
        software.modules.set(modules)
    if compatibility is not None:
        intake._check_collisions(software.version, list(compatibility), exclude=software)
        software.compatibility.set(compatibility)
    return software


def _check_release_unlocked(software: Software) -> None:
    if software.locked:
        raise SoftwareLocked(f"{software} is locked: its modules and hardware stay as they are")
    if software.actions.exists() or software.rollouts.exists():
        raise SoftwareLocked(
            f"{software} is in use by rollouts or device history: its modules and hardware stay as they are"
        )


@transaction.atomic
def release_add_modules(*, software: Software, modules: list[SoftwareModule]) -> Software:
    """Add modules to a release nobody was offered yet (hawkBit's POST assignedSM)."""
    _check_release_unlocked(software)
    if software.deleted:
        raise SoftwareError(f"{software} is deleted: its modules do not change")
    current = list(software.modules.select_related("type"))
    combined = current + [module for module in modules if module.pk not in {item.pk for item in current}]
    _check_module_types(combined, software.type)
    software.modules.set(combined)
    return software


@transaction.atomic
def release_remove_module(*, software: Software, module: SoftwareModule) -> Software:
    _check_release_unlocked(software)
    if not software.modules.filter(pk=module.pk).exists():
        raise SoftwareNotFound(f"{software} does not hold module {module}")
    software.modules.remove(module)
    return software


def release_delete(*, software: Software) -> bool:
    """Delete a release; True when it was only marked deleted (soft), False when it is gone.

    Releases that device history or a rollout refers to are marked deleted (hawkBit's soft
    delete): they stay for that history, running actions and rollouts carry on, but no new
    assignment, rollout or "latest" device gets them. Unreferenced ones are deleted with the
    modules no other release holds and their files (software_delete).
    """
    if _has_history([software]):
        if not software.deleted:
            software.deleted = True
            software.save(update_fields=["deleted"])
        return True
    intake.software_delete(software=software)
    return False


@transaction.atomic
def release_create_metadata(*, software: Software, entries: list[tuple[str, str]]) -> list[ReleaseMetadata]:
    """Add (key, value) entries to a release; a key it has already is 409 (hawkBit)."""
    keys = [_text("metadata key", key, limit=128) for key, _ in entries]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise SoftwareError(f"metadata key {repeated[0]!r} is given more than once")
    existing = sorted(software.metadata.filter(key__in=keys).values_list("key", flat=True))
    if existing:
        raise SoftwareConflict(f"{software} has metadata {existing[0]!r} already")
    created = [
        ReleaseMetadata(
            software=software,
            key=key,
            value=_text("metadata value", value, required=False, limit=_MAX_METADATA_VALUE),
        )
        for key, (_, value) in zip(keys, entries, strict=True)
    ]
    try:
        with transaction.atomic():
            return ReleaseMetadata.objects.bulk_create(created)
    except IntegrityError:
        raise SoftwareConflict(f"{software} has one of these metadata keys already") from None


def release_update_metadata(*, software: Software, key: str, value: str) -> ReleaseMetadata:
    key = _text("metadata key", key, limit=128)
    entry = software.metadata.filter(key=key).first()
    if entry is None:
        raise SoftwareNotFound(f"{software} has no metadata {key!r}")
    entry.value = _text("metadata value", value, required=False, limit=_MAX_METADATA_VALUE)
    entry.save(update_fields=["value"])
    return entry


def release_delete_metadata(*, software: Software, key: str) -> None:
    key = _text("metadata key", key, limit=128)
    deleted, _ = software.metadata.filter(key=key).delete()
    if not deleted:
        raise SoftwareNotFound(f"{software} has no metadata {key!r}")
