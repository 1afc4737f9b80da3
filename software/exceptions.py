"""Errors the software services raise; every message is meant for the operator who caused it.

They are goosebit_project.lib.errors domain errors, so each carries the HTTP status every
interface uses: ``SoftwareError`` 400, ``PackageTooLarge`` 413, ``SoftwareConflict`` 409,
``StorageFull`` 507. The
admin shows them on the form; ``import_software`` prints them.
"""

from __future__ import annotations

from goosebit_project.lib.errors import Conflict, InvalidInput


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
