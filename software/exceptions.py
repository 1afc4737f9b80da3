"""Errors the software services raise; every message is meant for the operator who caused it.

They are goosebit_project.lib.errors domain errors, so each carries the HTTP status every
interface uses: ``SoftwareError`` 400, ``PackageTooLarge`` 413, ``SoftwareConflict`` 409,
``StorageFull`` 507. The
admin shows them on the form; ``import_software`` prints them.
"""

from __future__ import annotations

from goosebit_project.lib.errors import Conflict, InvalidInput, NotFound


class SoftwareError(InvalidInput):
    """Bad input from an operator or a package file."""

    status_code = 400


class PackageTooLarge(SoftwareError):
    """The package is bigger than GOOSEBIT_MAX_UPLOAD_SIZE."""

    status_code = 413


class StorageFull(SoftwareError):
    """The temporary upload folder or the artifact storage ran out of space (HTTP 507)."""

    status_code = 507


class RemoteFetchError(SoftwareError):
    """A remote package URL could not be downloaded."""


class SoftwareConflict(SoftwareError, Conflict):
    """The request contradicts what is stored already (duplicate, version clash, still in use)."""

    status_code = 409


class SoftwareInUse(SoftwareConflict):
    """The software cannot be deleted while rollouts or device history reference it."""


class SoftwareLocked(SoftwareInUse):
    """A module or release that devices were offered cannot change (hawkBit: locked, 423)."""


class SoftwareNotFound(SoftwareError, NotFound):
    """What the request names does not exist (a metadata key, a module of a release...)."""

    status_code = 404


class ChecksumMismatch(SoftwareError):
    """An upload's given checksum does not match its content; ``algorithm`` says which one."""

    def __init__(self, message: str, *, algorithm: str) -> None:
        super().__init__(message)
        self.algorithm = algorithm


class ModuleTypeNotAllowed(SoftwareError):
    """A release's type does not allow a module of this type (hawkBit: modules.unsupported)."""


class TypeInUse(SoftwareInUse):
    """A type's definition cannot change while releases use it (hawkBit: entityReadOnly, 403)."""
