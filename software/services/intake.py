"""Adding update packages and artifact files to the repository.

Adding a package always goes the same way:

1. stream it into a temporary file, hashing sha1, md5 and sha256 in the same pass and stopping
   at GOOSEBIT_MAX_UPLOAD_SIZE (a file is never held in memory);
2. parse it (``software.parsers``): format, version, hardware compatibility;
3. refuse duplicates (same sha256) and clashes (same version for a hardware it already has);
4. store it at the content-addressed name ``<sha256>/<filename>`` in the default storage;
5. create the release, its one module, the artifact and its compatibility in one transaction.

A file that is not a package becomes a raw artifact when the operator gives the version (steps
2 and 3 use the operator's version and hardware instead). Any failure on the way leaves no stored
file, no row and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.client
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from devices.models import Hardware
from goosebit_project.lib.errors import is_no_space
from goosebit_project.lib.versions import versions_equal
from software import remote, selectors
from software.exceptions import (
    PackageTooLarge,
    RemoteFetchError,
    SoftwareConflict,
    SoftwareError,
    SoftwareInUse,
    StorageFull,
)
from software.models import Artifact, ImageFormat, Software, SoftwareModule, SoftwareModuleType
from software.parsers import PackageError, ParsedPackage, detect_format, parse_package

__all__ = [
    "ProgressCallback",
    "artifact_filename",
    "package_filename",
    "software_create_from_file",
    "software_create_from_url",
    "software_delete",
    "upload_temp_cleanup",
    "upload_temp_dir",
]

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
EXTENSIONS: dict[str, str] = {ImageFormat.SWU: ".swu", ImageFormat.RAUC: ".raucb"}
_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._+~-]+")
_MAX_FILENAME = 200

# Called with (bytes received so far, total bytes or None when unknown).
ProgressCallback = Callable[[int, int | None], None]


@dataclass(frozen=True)
class _Received:
    path: Path
    size: int
    sha1: str
    md5: str
    sha256: str


class _TemporaryPackage(File):
    """Lets FileSystemStorage move the temporary file into place instead of copying it."""

    def __init__(self, handle: BinaryIO, path: Path, name: str) -> None:
        super().__init__(handle, name=name)
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


def package_filename(raw: str, *, image_format: str, version: str) -> str:
    """A safe file name with the extension the device clients require.

    Path parts are dropped, characters outside ``A-Za-z0-9._+~-`` become ``_`` (the name goes
    into storage keys and Content-Disposition headers unquoted) and the extension is forced:
    SWUpdate refuses an artifact whose name does not end in ``.swu``.
    """
    extension = EXTENSIONS[image_format]
    base = re.split(r"[/\\]", raw or "")[-1]
    stem, dot, suffix = base.rpartition(".")
    if dot and f".{suffix.lower()}" in EXTENSIONS.values():
        base = stem
    base = _UNSAFE_CHARACTERS.sub("_", base).strip("._-")
    if not base:
        base = "update-" + _UNSAFE_CHARACTERS.sub("_", version).strip("._-")
    return base[:_MAX_FILENAME] + extension


def artifact_filename(raw: str) -> str:
    """A raw artifact's name made safe like a package's (no path, no unsafe characters), its
    extension kept: it goes into storage keys, URLs and Content-Disposition headers."""
    base = _UNSAFE_CHARACTERS.sub("_", re.split(r"[/\\]", raw or "")[-1]).strip("_-")
    if not base or base in {".", ".."}:
        raise SoftwareError("the artifact needs a file name")
    return base[-_MAX_FILENAME:]


def _receive(
    source: IO[bytes],
    *,
    expected_size: int | None,
    on_progress: ProgressCallback | None,
    interrupted: type[SoftwareError] = SoftwareError,
) -> _Received:
    """Copy ``source`` into a new temporary file, hashing as it goes; clean up on any failure."""
    limit = settings.GOOSEBIT_MAX_UPLOAD_SIZE
    if expected_size is not None and expected_size > limit:
        raise PackageTooLarge(f"the package is {expected_size} bytes, larger than the limit of {limit} bytes")
    sha1, md5, sha256 = hashlib.sha1(), hashlib.md5(), hashlib.sha256()
    size = 0
    descriptor, name = tempfile.mkstemp(prefix="goosebit-package-", dir=upload_temp_dir())
    path = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as out:
            while True:
                try:
                    chunk = source.read(CHUNK_SIZE)
                except (OSError, http.client.HTTPException) as exc:
                    raise interrupted(f"the transfer broke off after {size} bytes: {exc}") from None
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise PackageTooLarge(f"the package is larger than the limit of {limit} bytes")
                sha1.update(chunk)
                md5.update(chunk)
                sha256.update(chunk)
                out.write(chunk)
                if on_progress is not None:
                    on_progress(size, expected_size)
    except BaseException as exc:
        path.unlink(missing_ok=True)
        # Buffered: a full disk may surface on a later write or on the final flush.
        if is_no_space(exc):
            raise StorageFull("no space left in the temporary upload folder") from None
        raise
    return _Received(path, size, sha1.hexdigest(), md5.hexdigest(), sha256.hexdigest())


def _check_duplicate(sha256: str) -> None:
    existing = (
        Artifact.objects.filter(sha256=sha256).exclude(image_format="").select_related("module").first()
    )
    if existing is not None:
        release = existing.module.releases.order_by("pk").first()
        where = f"software {release.pk}" if release else f"module {existing.module_id}"
        raise SoftwareConflict(
            f"this package is already stored as {where} ({existing.filename}, version "
            f"{existing.module.version})"
        )


def _check_collisions(version: str, hardware: list[Hardware], *, exclude: Software | None = None) -> None:
    """Two software with one version for the same hardware would make "which one?" ambiguous.

    Versions compare by goosebit_project.lib.versions, so "1.0" clashes with "1.0.0" as it would
    for a device reporting either.
    """
    # A soft-deleted release is never offered again, so it no longer makes a version ambiguous.
    live = Software.objects.filter(deleted=False)
    others = live.exclude(pk=exclude.pk) if exclude is not None else live
    candidates = (
        others.filter(compatibility__in=hardware).prefetch_related("compatibility").distinct().order_by("pk")
    )
    for other in candidates:
        if not versions_equal(other.version, version):
            continue
        shared = sorted(
            (str(item) for item in other.compatibility.all() if item in hardware),
        )
        raise SoftwareConflict(
            f"Software {version} for {', '.join(shared)} exists already (software {other.pk}, {other.name})"
        )


def _collision_precheck(version: str, compatibility: tuple[tuple[str, str], ...]) -> None:
    existing = [
        item
        for model, revision in compatibility
        if (item := Hardware.objects.filter(model=model, revision=revision).first()) is not None
    ]
    if existing:
        _check_collisions(version, existing)


def upload_temp_dir() -> str:
    """The dedicated folder for upload temp files (cleaned at server start, see README)."""
    directory = Path(settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir())
    directory.mkdir(parents=True, exist_ok=True)
    return str(directory)


def upload_temp_cleanup(*, older_than_seconds: float = 0) -> int:
    """Remove temp files left by killed workers; returns how many. Run before workers start."""
    directory = Path(settings.FILE_UPLOAD_TEMP_DIR or "")
    if not settings.FILE_UPLOAD_TEMP_DIR or not directory.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - older_than_seconds
    for path in directory.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime <= cutoff:
                path.unlink()
                removed += 1
        except OSError:
            logger.warning("could not remove the stale upload file %s", path)
    return removed


def _store(received: _Received, filename: str) -> str:
    """Save the package under ``<sha256>/<filename>``; on any failure nothing is left there."""
    wanted = f"{received.sha256}/{filename}"
    existed = default_storage.exists(wanted)
    try:
        with open(received.path, "rb") as handle:
            return default_storage.save(wanted, _TemporaryPackage(handle, received.path, filename))
    except BaseException as exc:
        # FileSystemStorage copies chunk by chunk when the temp dir is on another file system:
        # a full disk leaves a partial file under the name we asked for.
        if not existed:
            _delete_stored(wanted)
            _remove_empty_folder(received.sha256)
        if is_no_space(exc):
            raise StorageFull("no space left in the artifact storage for this package") from None
        raise


def _remove_empty_folder(name: str) -> None:
    location = getattr(default_storage, "location", None)
    if location:
        with contextlib.suppress(OSError):
            (Path(location) / name).rmdir()


def _delete_stored(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception:  # never mask the error that got us here; an orphan only wastes space
        logger.exception("could not delete the stored file %s", name)


def package_module_type() -> SoftwareModuleType:
    """The module type of uploaded packages: ``os`` (created if an operator deleted it)."""
    module_type, _ = SoftwareModuleType.objects.get_or_create(
        key="os", defaults={"name": "OS", "max_assignments": 1}
    )
    return module_type


@dataclass(frozen=True)
class _Description:
    """What the new release is: from the parser for a package, from the operator for a raw file."""

    version: str
    compatibility: tuple[tuple[str, str], ...]
    image_format: str = ""
    signed: bool = False
    name: str = ""
    module_type: str = "os"
    metadata: dict = field(default_factory=dict)


def _unique_module_name(module_type: SoftwareModuleType, name: str, version: str) -> str:
    """hawkBit keeps (type, name, version) unique; a second upload of that name gets a suffix."""
    candidate, number = name, 1
    while SoftwareModule.objects.filter(type=module_type, name=candidate, version=version).exists():
        number += 1
        candidate = f"{name} ({number})"
    return candidate


@transaction.atomic
def _create_row(
    *,
    received: _Received,
    description: _Description,
    filename: str,
    stored_name: str,
    url: str,
    metadata: dict,
) -> Software:
    hardware = [
        Hardware.objects.get_or_create(model=model, revision=revision)[0]
        for model, revision in description.compatibility
    ]
    # Lock the hardware rows so two uploads of one version for one board cannot both pass the
    # collision check (PostgreSQL; SQLite serialises writers anyway).
    list(Hardware.objects.select_for_update().filter(pk__in=[item.pk for item in hardware]).order_by("pk"))
    _check_collisions(description.version, hardware)
    if description.image_format:
        _check_duplicate(received.sha256)
    if description.module_type == "os":
        module_type = package_module_type()
    else:
        found = SoftwareModuleType.objects.filter(key=description.module_type).first()
        if found is None:
            raise SoftwareError(f"there is no software module type {description.module_type!r}")
        module_type = found
    name = description.name or filename
    try:
        with transaction.atomic():
            module = SoftwareModule.objects.create(
                type=module_type,
                name=_unique_module_name(module_type, filename, description.version),
                version=description.version,
            )
            artifact = Artifact(
                module=module,
                url=url,
                filename=filename,
                size=received.size,
                sha1=received.sha1,
                md5=received.md5,
                sha256=received.sha256,
                image_format=description.image_format,
                signed=description.signed,
                metadata=metadata,
            )
            artifact.file.name = stored_name
            artifact.save()
    except IntegrityError:
        # A concurrent upload of the same bytes won the race past _check_duplicate.
        _check_duplicate(received.sha256)
        raise
    software = Software.objects.create(
        name=name[:255],
        version=description.version,
        type=selectors.distribution_set_type_default_for(module_type_ids={module_type.pk}),
    )
    software.modules.add(module)
    software.compatibility.set(hardware)
    return software


def _describe(received: _Received, *, raw: _Description | None) -> _Description:
    """Parse the package; a file in no package format is a raw artifact if ``raw`` says what it is."""
    if raw is not None:
        try:
            detect_format(received.path)
        except PackageError:
            return raw
    parsed: ParsedPackage = parse_package(received.path)
    if raw is not None and raw.version and not versions_equal(raw.version, parsed.version):
        raise SoftwareError(
            f"the package says it is version {parsed.version}, not {raw.version}; leave the version "
            "empty for packages"
        )
    return _Description(
        version=parsed.version,
        compatibility=parsed.compatibility,
        image_format=parsed.image_format,
        signed=parsed.signed,
        name=raw.name if raw is not None else "",
        metadata=parsed.metadata,
    )


def _finish(
    received: _Received,
    *,
    raw_filename: str,
    url: str = "",
    metadata: dict | None = None,
    raw: _Description | None = None,
) -> Software:
    """Parse, check, store (unless ``url`` is set) and record; the caller removes the temp file."""
    description = _describe(received, raw=raw)
    if description.image_format:
        filename = package_filename(
            raw_filename, image_format=description.image_format, version=description.version
        )
        _check_duplicate(received.sha256)
    else:
        filename = artifact_filename(raw_filename)
    _collision_precheck(description.version, description.compatibility)
    stored_name = ""
    try:
        if not url:
            stored_name = _store(received, filename)
        return _create_row(
            received=received,
            description=description,
            filename=filename,
            stored_name=stored_name,
            url=url,
            metadata={**description.metadata, **(metadata or {})},
        )
    except BaseException:
        if stored_name:
            _delete_stored_unless_shared(stored_name)
        raise


def _raw_description(
    *, version: str | None, name: str | None, module_type: str | None, compatibility: list[Hardware] | None
) -> _Description | None:
    if not (version or "").strip():
        return None
    clean_version = version.strip() if version else ""
    if len(clean_version) > 255 or not clean_version.isprintable():
        raise SoftwareError("the version must be printable text of at most 255 characters")
    return _Description(
        version=clean_version,
        compatibility=tuple((item.model, item.revision) for item in compatibility or []),
        name=(name or "").strip(),
        module_type=(module_type or "os").strip(),
    )


def software_create_from_file(
    *,
    file: IO[bytes],
    filename: str | None = None,
    on_progress: ProgressCallback | None = None,
    version: str | None = None,
    name: str | None = None,
    module_type: str | None = None,
    compatibility: list[Hardware] | None = None,
) -> Software:
    """Add the package read from ``file`` (a Django UploadedFile or any binary file object).

    ``filename`` defaults to the file's own name; it only names the stored file, the format comes
    from the content. With ``version``, a file that is no package is accepted as a raw artifact:
    a release of that version with one module (``module_type``, default ``os``) holding the file,
    compatible with ``compatibility``. Raises SoftwareError (PackageError, PackageTooLarge,
    SoftwareConflict).
    """
    raw = _raw_description(version=version, name=name, module_type=module_type, compatibility=compatibility)
    raw_filename = filename if filename is not None else (getattr(file, "name", "") or "")
    expected = getattr(file, "size", None)
    received = _receive(
        file, expected_size=expected if isinstance(expected, int) else None, on_progress=on_progress
    )
    try:
        return _finish(received, raw_filename=raw_filename, raw=raw)
    finally:
        received.path.unlink(missing_ok=True)


def software_create_from_url(
    *,
    url: str,
    cache: bool | None = None,
    on_progress: ProgressCallback | None = None,
) -> Software:
    """Add the package at an http(s) URL.

    The package is downloaded once (size-limited, at most ``remote.MAX_REDIRECTS`` redirects) to
    be parsed and hashed. With ``cache`` (default GOOSEBIT_REMOTE_SOFTWARE_CACHE) it is then kept
    in the storage like an upload; otherwise devices download it from ``url`` and only the row is
    kept. Credentials in ``url`` are used for the download and kept for devices, never shown.
    """
    cache = settings.GOOSEBIT_REMOTE_SOFTWARE_CACHE if cache is None else cache
    url = remote.validate_url(url)
    with remote.open_url(url) as response:
        received = _receive(
            response.stream,
            expected_size=response.length,
            on_progress=on_progress,
            interrupted=RemoteFetchError,
        )
    try:
        if response.length is not None and received.size != response.length:
            raise RemoteFetchError(
                f"the download of {remote.mask_url(url)} ended after {received.size} of "
                f"{response.length} bytes"
            )
        return _finish(
            received,
            raw_filename=response.filename,
            url="" if cache else url,
            metadata={"source_url": remote.mask_url(url)},
        )
    finally:
        received.path.unlink(missing_ok=True)


def _delete_stored_unless_shared(stored_name: str) -> None:
    """Content-addressed names may be shared by artifacts of several modules: keep it if so."""
    if not Artifact.objects.filter(file=stored_name).exists():
        _delete_stored(stored_name)


def software_delete(*, software: Software) -> None:
    """Delete a release, its modules no other release uses and, once committed, their files.

    Refused (SoftwareInUse) while a rollout uses it or any update action refers to it: active
    actions are being installed right now, and finished ones are the devices' update history,
    which must keep saying what was installed. Devices that had it assigned lose the assignment.
    """
    rollouts = list(software.rollouts.order_by("pk").values_list("name", flat=True)[:4])
    if rollouts:
        names = ", ".join(repr(name) for name in rollouts[:3]) + (", ..." if len(rollouts) > 3 else "")
        raise SoftwareInUse(f"{software} cannot be deleted: it is used by rollout {names}")
    # The actions' model through the reverse relation: software never imports rollouts.
    active = software.actions.filter(status__in=software.actions.model.ACTIVE_STATUSES).count()
    if active:
        raise SoftwareInUse(f"{software} cannot be deleted: it is being installed on {active} device(s)")
    finished = software.actions.count()
    if finished:
        raise SoftwareInUse(
            f"{software} cannot be deleted: it is used by {finished} finished update(s) in device history"
        )
    in_other_releases = Software.modules.through.objects.exclude(software=software).values(
        "softwaremodule_id"
    )
    orphans = list(software.modules.exclude(pk__in=in_other_releases))
    stored_names = list(
        Artifact.objects.filter(module__in=orphans).exclude(file="").values_list("file", flat=True)
    )
    try:
        with transaction.atomic():
            software.delete()
            Artifact.objects.filter(module__in=orphans).delete()
            SoftwareModule.objects.filter(pk__in=[module.pk for module in orphans]).delete()
    except ProtectedError:
        # An action or rollout was created for it since the checks above.
        raise SoftwareInUse(f"{software} cannot be deleted: it has just been put to use") from None
    for stored_name in stored_names:
        transaction.on_commit(functools.partial(_delete_stored_unless_shared, stored_name))
