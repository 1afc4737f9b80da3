"""Read what an update package says about itself: format, version, hardware it fits.

``parse_package(path)`` is the single entry point. The format is recognised by its first bytes,
never by the file name: a cpio archive (``070701`` newc / ``070702`` crc) is an SWUpdate image, a
squashfs (``hsqs``) is a RAUC bundle. Parsers read headers and the package description only, so
a multi-gigabyte package costs a few kilobytes of memory. Every failure is a ``PackageError`` whose
message names the problem in words an operator can act on.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from software.exceptions import SoftwareError

__all__ = ["PackageError", "ParsedPackage", "detect_format", "parse_package"]

SWU_MAGICS = (b"070701", b"070702")
SQUASHFS_MAGIC = b"hsqs"
# RAUC appends its CMS signature and then the signature's length as a big-endian 64-bit number.
RAUC_SIGNATURE_SIZE_BYTES = 8
MAX_RAUC_SIGNATURE = 1024 * 1024
# Software.version, Hardware.model and Hardware.revision are CharField(max_length=255).
MAX_NAME_LENGTH = 255
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class PackageError(SoftwareError):
    """The file is not a package we can read; the message says why."""


@dataclass(frozen=True)
class ParsedPackage:
    image_format: str  # a software.models.Software.ImageFormat value
    version: str
    # (model, revision) pairs in the order the package lists them, without duplicates.
    compatibility: tuple[tuple[str, str], ...]
    signed: bool
    metadata: dict = field(default_factory=dict)


def detect_format(path: str | os.PathLike[str]) -> str:
    """Return "swu" or "rauc" from the file's magic bytes, or raise PackageError."""
    with open(path, "rb") as handle:
        head = handle.read(6)
        if not head:
            raise PackageError("the file is empty")
        if head in SWU_MAGICS:
            return "swu"
        if head.startswith(SQUASHFS_MAGIC):
            return "rauc"
        if head.startswith(b"0707"):
            raise PackageError(
                "the cpio archive uses an old header format; SWUpdate images must be "
                "newc (070701) or crc (070702)"
            )
        if _looks_like_encrypted_rauc_bundle(handle):
            raise PackageError(
                "this looks like an encrypted RAUC bundle (format=crypt), which is not supported; "
                "upload a plain or verity bundle"
            )
    raise PackageError("not a .swu or .raucb file (unknown file format)")


def parse_package(path: str | os.PathLike[str]) -> ParsedPackage:
    """Detect the format of the file at ``path`` and parse it."""
    from software.parsers import rauc, swu

    image_format = detect_format(path)
    parser = swu.parse if image_format == "swu" else rauc.parse
    with open(path, "rb") as handle:
        parsed = parser(handle, os.fstat(handle.fileno()).st_size)
    return _checked(parsed)


def _checked(parsed: ParsedPackage) -> ParsedPackage:
    """Refuse names the database cannot hold, and drop NUL characters PostgreSQL cannot store."""
    values = [("version", parsed.version)]
    for model, revision in parsed.compatibility:
        values += [("hardware model", model), ("hardware revision", revision)]
    for what, value in values:
        if len(value) > MAX_NAME_LENGTH:
            raise PackageError(f"the {what} {value[:40]!r}... is longer than {MAX_NAME_LENGTH} characters")
        if _CONTROL_CHARACTERS.search(value):
            raise PackageError(f"the {what} {value!r} contains control characters")
    return ParsedPackage(
        image_format=parsed.image_format,
        version=parsed.version,
        compatibility=parsed.compatibility,
        signed=parsed.signed,
        metadata=_without_nul(parsed.metadata),
    )


def _without_nul(value):
    if isinstance(value, str):
        return value.replace("\0", "")
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(item) for item in value]
    return value


def rauc_signature_size(handle, size: int) -> int | None:
    """The length of the CMS signature RAUC appended, if the file ends like a RAUC bundle."""
    if size <= RAUC_SIGNATURE_SIZE_BYTES:
        return None
    handle.seek(size - RAUC_SIGNATURE_SIZE_BYTES)
    signature_size = int.from_bytes(handle.read(RAUC_SIGNATURE_SIZE_BYTES), "big")
    if not 0 < signature_size <= min(MAX_RAUC_SIGNATURE, size - RAUC_SIGNATURE_SIZE_BYTES):
        return None
    handle.seek(size - RAUC_SIGNATURE_SIZE_BYTES - signature_size)
    # A DER SEQUENCE (0x30) with a long-form or indefinite length: the start of a CMS structure.
    start = handle.read(2)
    if len(start) == 2 and start[0] == 0x30 and start[1] in (0x80, 0x81, 0x82, 0x83, 0x84):
        return signature_size
    return None


def _looks_like_encrypted_rauc_bundle(handle) -> bool:
    size = os.fstat(handle.fileno()).st_size
    return rauc_signature_size(handle, size) is not None
