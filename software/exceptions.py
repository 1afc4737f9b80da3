"""Errors the software services raise; every message is meant for the operator who caused it.

The API maps them to status codes (``SoftwareError`` 400, ``PackageTooLarge`` 413,
``SoftwareConflict`` 409); the admin shows them on the form; ``import_software`` prints them.
"""

from __future__ import annotations


class SoftwareError(Exception):
    """Bad input from an operator or a package file."""


class PackageTooLarge(SoftwareError):
    """The package is bigger than GOOSEBIT_MAX_UPLOAD_SIZE."""


class RemoteFetchError(SoftwareError):
    """A remote package URL could not be downloaded."""


class SoftwareConflict(SoftwareError):
    """The request contradicts what is stored already (duplicate, version clash, still in use)."""


class SoftwareInUse(SoftwareConflict):
    """The software cannot be deleted while rollouts or device history reference it."""
