"""SWUpdate images (.swu): a cpio archive whose first entry is ``sw-description``.

SWUpdate reads the archive as a stream, so ``sw-description`` (and its ``sw-description.sig``
when the image is signed) must come first. The description is libconfig or JSON, depending on how
SWUpdate was built; both are accepted. Hardware compatibility follows gooseBit's rules:

* ``software.hardware-compatibility``                      → model "default"
* ``software.<board>.hardware-compatibility``              → model <board>
* ``software.<board>.<collection>.hardware-compatibility`` → model <board> (collections, "stable")
* nothing found                                            → ("default", "default")

Only the cpio headers and ``sw-description`` are read; the archive is walked to its trailer by
seeking over the image data, which catches truncated uploads without reading them.
"""

from __future__ import annotations

import json
from typing import BinaryIO

import libconf

from goosebit_project.lib.versions import Version
from software.parsers import PackageError, ParsedPackage

HEADER_SIZE = 110
MAX_NAME_SIZE = 4096
# SWUpdate keeps sw-description in memory too; a larger one is not a real image.
MAX_DESCRIPTION_SIZE = 4 * 1024 * 1024
# Enough for any real image; bounds the work a crafted archive can cause.
MAX_ENTRIES = 100_000
# Entries listed in Software.metadata; the rest are counted only.
LISTED_ENTRIES = 200
TRAILER = "TRAILER!!!"


def _align4(value: int) -> int:
    return (value + 3) & ~3


class _Entry:
    __slots__ = ("name", "size", "check", "data_offset", "crc")

    def __init__(self, name: str, size: int, check: int, data_offset: int, crc: bool) -> None:
        self.name = name
        self.size = size
        self.check = check
        self.data_offset = data_offset
        self.crc = crc


def _read_header(handle: BinaryIO, offset: int, file_size: int) -> _Entry:
    handle.seek(offset)
    header = handle.read(HEADER_SIZE)
    if len(header) < HEADER_SIZE:
        raise PackageError(f"the file is truncated: cpio header at byte {offset} is incomplete")
    magic = header[:6]
    if magic not in (b"070701", b"070702"):
        raise PackageError(f"corrupt cpio archive: no entry header at byte {offset}")
    try:
        fields = [int(header[6 + index * 8 : 14 + index * 8], 16) for index in range(13)]
    except ValueError:
        raise PackageError(f"corrupt cpio archive: unreadable entry header at byte {offset}") from None
    size, name_size, check = fields[6], fields[11], fields[12]
    if not 1 <= name_size <= MAX_NAME_SIZE:
        raise PackageError(f"corrupt cpio archive: bad file name length at byte {offset}")
    raw_name = handle.read(name_size)
    if len(raw_name) < name_size:
        raise PackageError(f"the file is truncated: cpio entry name at byte {offset} is incomplete")
    name = raw_name.rstrip(b"\0").decode("utf-8", "replace")
    data_offset = offset + _align4(HEADER_SIZE + name_size)
    if data_offset + size > file_size:
        raise PackageError(f"the file is truncated: entry {name!r} needs {size} bytes past the end")
    return _Entry(name, size, check, data_offset, magic == b"070702")


def _load_description(raw: bytes) -> tuple[dict, str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PackageError("sw-description is not UTF-8 text") from None
    if text.lstrip().startswith("{"):
        syntax = "json"
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise PackageError(f"sw-description is not valid JSON: {exc}") from None
    else:
        syntax = "libconfig"
        try:
            document = libconf.loads(text)
        except Exception as exc:  # libconf raises several exception types for bad input
            raise PackageError(f"sw-description is not valid libconfig: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("software"), dict):
        raise PackageError("sw-description has no software section")
    return document, syntax


def _revisions(value: object, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise PackageError(f"sw-description: {where}.hardware-compatibility must be a list of revisions")
    revisions = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int | float) or not str(item).strip():
            raise PackageError(f"sw-description: {where}.hardware-compatibility has an invalid revision")
        revisions.append(str(item).strip())
    return revisions


def compatibility_of(software: dict) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    if "hardware-compatibility" in software:
        found += [("default", rev) for rev in _revisions(software["hardware-compatibility"], "software")]
    for board, section in software.items():
        if not isinstance(section, dict):
            continue
        where = f"software.{board}"
        if "hardware-compatibility" in section:
            found += [(board, rev) for rev in _revisions(section["hardware-compatibility"], where)]
        for collection, inner in section.items():
            if isinstance(inner, dict) and "hardware-compatibility" in inner:
                inner_where = f"{where}.{collection}"
                found += [(board, rev) for rev in _revisions(inner["hardware-compatibility"], inner_where)]
    if not found:
        return (("default", "default"),)
    return tuple(dict.fromkeys(found))


def parse(handle: BinaryIO, file_size: int) -> ParsedPackage:
    first = _read_header(handle, 0, file_size)
    if first.name != "sw-description":
        raise PackageError(f"the first entry of a .swu must be sw-description, found {first.name!r}")
    if first.size > MAX_DESCRIPTION_SIZE:
        raise PackageError(f"sw-description is larger than {MAX_DESCRIPTION_SIZE} bytes")
    handle.seek(first.data_offset)
    raw = handle.read(first.size)
    if first.crc and sum(raw) & 0xFFFFFFFF != first.check:
        raise PackageError("sw-description does not match its cpio checksum (the file is corrupt)")
    document, syntax = _load_description(raw)
    software = document["software"]

    version = software.get("version")
    if version is None:
        raise PackageError("sw-description has no software.version")
    if not isinstance(version, str) or not version.strip():
        raise PackageError("sw-description: software.version must be a non-empty string")
    version = version.strip()
    if not Version(version).is_recognised:
        raise PackageError(
            f"sw-description: software.version {version!r} is not a version "
            "(use numbers like 1.2.3.4 or semantic versioning)"
        )
    compatibility = compatibility_of(software)

    # Walk the rest of the archive by its headers to find the signature and the trailer.
    entries: list[dict] = []
    offset = first.data_offset + _align4(first.size)
    signed = False
    count = 0
    while True:
        entry = _read_header(handle, offset, file_size)
        if entry.name == TRAILER:
            break
        count += 1
        if count > MAX_ENTRIES:
            raise PackageError(f"the archive has more than {MAX_ENTRIES} entries")
        if count == 1 and entry.name == "sw-description.sig":
            signed = True
        elif len(entries) < LISTED_ENTRIES:
            entries.append({"name": entry.name, "size": entry.size})
        offset = entry.data_offset + _align4(entry.size)

    description = software.get("description")
    metadata = {
        "description": description if isinstance(description, str) else "",
        "sw_description_syntax": syntax,
        "cpio_format": "crc" if first.crc else "newc",
        "entries": entries,
        "entry_count": count - (1 if signed else 0),
    }
    return ParsedPackage(
        image_format="swu",
        version=version,
        compatibility=compatibility,
        signed=signed,
        metadata=metadata,
    )
