"""RAUC bundles (.raucb): a squashfs image holding ``manifest.raucm``, then a CMS signature.

The squashfs starts at byte 0 in both the ``plain`` and the ``verity`` format, so the manifest is
read straight from the file with PySquashfsImage (seeking, never loading the bundle). ``crypt``
bundles encrypt the squashfs and are refused with a clear message. The signature is not verified
here (devices do that); we only record that one is present.

``[update] compatible`` becomes the hardware model with revision "default", unless
GOOSEBIT_RAUC_COMPATIBLE_PATTERN (a regex with the named groups ``hw_boardname`` and optional
``hw_revision``) matches it, in which case the groups give model and revision.
"""

from __future__ import annotations

import configparser
import re
from typing import BinaryIO

from django.conf import settings
from PySquashfsImage import SquashFsImage
from PySquashfsImage.const import Compression

from goosebit_project.lib.versions import Version
from software.parsers import PackageError, ParsedPackage, rauc_signature_size

MAX_MANIFEST_SIZE = 1024 * 1024
FORMATS = ("plain", "verity")


def compatibility_of(compatible: str) -> tuple[str, str]:
    pattern = settings.GOOSEBIT_RAUC_COMPATIBLE_PATTERN
    if pattern:
        match = re.match(pattern, compatible)
        if match and match.groupdict().get("hw_boardname"):
            return match.group("hw_boardname"), match.groupdict().get("hw_revision") or "default"
    return compatible, "default"


def _read_manifest(handle: BinaryIO) -> tuple[bytes, str]:
    try:
        image = SquashFsImage(handle, closefd=False)
    except ImportError as exc:
        raise PackageError(f"the bundle's squashfs compression is not supported here ({exc.name})") from None
    except Exception as exc:  # PySquashfsImage signals corrupt images with many exception types
        raise PackageError(f"the bundle is not a readable squashfs image ({exc})") from None
    try:
        compression = Compression(image.sblk.compression).name.lower()
        manifest = image.select("/manifest.raucm")
        if manifest is None or not manifest.is_file:
            raise PackageError("the bundle has no manifest.raucm (not a RAUC bundle)")
        if manifest.size > MAX_MANIFEST_SIZE:
            raise PackageError(f"manifest.raucm is larger than {MAX_MANIFEST_SIZE} bytes")
        return manifest.read_bytes(), compression
    except PackageError:
        raise
    except Exception as exc:
        raise PackageError(f"the bundle's squashfs image is corrupt ({exc})") from None
    finally:
        # The library caches decompressed blocks per image in a class-wide LRU; drop them.
        SquashFsImage._read_data_block.cache_clear()


def parse(handle: BinaryIO, file_size: int) -> ParsedPackage:
    raw, compression = _read_manifest(handle)
    manifest = configparser.ConfigParser(interpolation=None)
    try:
        manifest.read_string(raw.decode("utf-8"), source="manifest.raucm")
    except (UnicodeDecodeError, configparser.Error) as exc:
        raise PackageError(f"manifest.raucm cannot be parsed: {exc}") from None

    compatible = manifest.get("update", "compatible", fallback="").strip()
    if not compatible:
        raise PackageError("manifest.raucm has no [update] compatible")
    version = manifest.get("update", "version", fallback="").strip()
    if not version:
        raise PackageError("manifest.raucm has no [update] version")
    if not Version(version).is_recognised:
        raise PackageError(
            f"manifest.raucm: version {version!r} is not a version "
            "(use numbers like 1.2.3.4 or semantic versioning)"
        )
    bundle_format = manifest.get("bundle", "format", fallback="plain").strip() or "plain"
    if bundle_format == "crypt":
        raise PackageError("encrypted RAUC bundles (format=crypt) are not supported")
    if bundle_format not in FORMATS:
        raise PackageError(f"manifest.raucm: unknown [bundle] format {bundle_format!r}")

    images = [
        {"slot": section.removeprefix("image."), "filename": manifest.get(section, "filename", fallback="")}
        for section in manifest.sections()
        if section.startswith("image.")
    ]
    metadata = {
        "compatible": compatible,
        "bundle_format": bundle_format,
        "description": manifest.get("update", "description", fallback=""),
        "build": manifest.get("update", "build", fallback=""),
        "squashfs_compression": compression,
        "images": images,
    }
    return ParsedPackage(
        image_format="rauc",
        version=version,
        compatibility=(compatibility_of(compatible),),
        signed=rauc_signature_size(handle, file_size) is not None,
        metadata=metadata,
    )
