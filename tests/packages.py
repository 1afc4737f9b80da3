"""Build real update packages for tests.

``build_swu`` writes a real SWUpdate image: a cpio archive (newc or crc) whose first entry is
``sw-description`` in libconfig or JSON syntax, optionally signed with CMS the way SWUpdate's
``-k`` verification expects. ``make_signing_pair`` creates the key and certificate with openssl.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SigningPair:
    key: Path
    cert: Path


def make_signing_pair(directory: Path, name: str = "signer") -> SigningPair:
    """A self-signed certificate usable both to sign (.swu CMS) and as SWUpdate's -k CA."""
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / f"{name}.key"
    cert = directory / f"{name}.crt"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "30",
            "-subj", f"/CN={name}",
            "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
            "-addext", "extendedKeyUsage=emailProtection,codeSigning",
            "-addext", "basicConstraints=critical,CA:TRUE",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return SigningPair(key=key, cert=cert)


def _libconfig_value(value: object, indent: str) -> str:
    if isinstance(value, dict):
        inner = indent + "  "
        body = "".join(f"{inner}{k} = {_libconfig_value(v, inner)};\n" for k, v in value.items())
        return "{\n" + body + indent + "}"
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            inner = indent + "  "
            return "(\n" + ",\n".join(inner + _libconfig_value(v, inner) for v in value) + "\n" + indent + ")"
        return "[" + ", ".join(_libconfig_value(item, indent) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def sw_description(description: dict, *, syntax: str = "libconfig") -> bytes:
    """Render {"software": {...}} in libconfig or JSON syntax."""
    if syntax == "json":
        return json.dumps(description, indent=2).encode()
    return "".join(f"{key} = {_libconfig_value(value, '')};\n" for key, value in description.items()).encode()


def _cpio_entry(name: str, data: bytes, *, ino: int, crc: bool) -> bytes:
    name_bytes = name.encode() + b"\0"
    check = sum(data) & 0xFFFFFFFF if crc else 0
    fields = [ino, 0o100644, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_bytes), check]
    header = (b"070702" if crc else b"070701") + b"".join(b"%08X" % field for field in fields)
    entry = header + name_bytes
    entry += b"\0" * (-len(entry) % 4)
    entry += data
    entry += b"\0" * (-len(entry) % 4)
    return entry


def cpio_archive(entries: list[tuple[str, bytes]], *, crc: bool = False) -> bytes:
    out = b"".join(
        _cpio_entry(name, data, ino=index + 1, crc=crc) for index, (name, data) in enumerate(entries)
    )
    out += _cpio_entry("TRAILER!!!", b"", ino=0, crc=crc)
    return out + b"\0" * (-len(out) % 512)


def build_swu(
    path: Path,
    *,
    version: str = "1.0.0",
    board: str | None = "board",
    revisions: list[str] | None = None,
    files: dict[str, bytes] | None = None,
    signer: SigningPair | None = None,
    syntax: str = "libconfig",
    crc: bool = False,
    description: dict | None = None,
    install_to: str = "out",
) -> Path:
    """Write a real .swu to ``path`` and return it.

    The image installs each file with SWUpdate's ``rawfile`` handler to ``<install_to>/<name>``
    (relative to the client's working directory). Hardware compatibility is
    ``software.<board>.hardware-compatibility`` when ``board`` is given, else top-level.
    ``description`` replaces the generated sw-description entirely (for odd layouts).
    """
    files = files if files is not None else {"rootfs.img": f"rootfs {version}\n".encode()}
    revisions = revisions if revisions is not None else ["1"]
    if description is None:
        images = [
            {
                "filename": name,
                "type": "rawfile",
                "path": f"{install_to}/{name}",
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            for name, data in files.items()
        ]
        body: dict = {"hardware-compatibility": revisions, "files": images}
        software: dict = {"version": version, "description": f"test image {version}"}
        if board:
            software[board] = body
        else:
            software.update(body)
        description = {"software": software}
    text = sw_description(description, syntax=syntax)
    entries: list[tuple[str, bytes]] = [("sw-description", text)]
    if signer is not None:
        description_file = path.with_suffix(".sw-description")
        signature_file = path.with_suffix(".sig")
        description_file.write_bytes(text)
        subprocess.run(
            [
                "openssl", "cms", "-sign", "-in", str(description_file), "-out", str(signature_file),
                "-signer", str(signer.cert), "-inkey", str(signer.key),
                "-outform", "DER", "-nosmimecap", "-binary",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        entries.append(("sw-description.sig", signature_file.read_bytes()))
        description_file.unlink()
        signature_file.unlink()
    entries.extend(files.items())
    path.write_bytes(cpio_archive(entries, crc=crc))
    return path


def build_raucb(
    path: Path,
    *,
    version: str | None = "1.0.0",
    compatible: str = "board",
    format: str = "plain",  # noqa: A002 - RAUC's own name for it
    signer: SigningPair,
    files: dict[str, bytes] | None = None,
    description: str | None = None,
    mksquashfs_args: str | None = None,
) -> Path:
    """Write a real RAUC bundle with Debian's ``rauc bundle`` and return its path.

    ``signer`` signs the bundle and is also its keyring. ``version=None`` leaves the version out
    of the manifest. verity and crypt bundles need more than 4 KiB of squashfs, so a filler
    image of incompressible bytes is added unless ``files`` is given.
    """
    files = files if files is not None else {"rootfs.img": os.urandom(16 * 1024)}
    content = path.with_suffix(".content")
    shutil.rmtree(content, ignore_errors=True)
    content.mkdir(parents=True)
    manifest = f"[update]\ncompatible={compatible}\n"
    if version is not None:
        manifest += f"version={version}\n"
    if description is not None:
        manifest += f"description={description}\n"
    manifest += f"\n[bundle]\nformat={format}\n"
    for index, (name, data) in enumerate(files.items()):
        (content / name).write_bytes(data)
        manifest += f"\n[image.slot{index}]\nfilename={name}\n"
    (content / "manifest.raucm").write_text(manifest)
    path.unlink(missing_ok=True)
    command = [
        "rauc", "--cert", str(signer.cert), "--key", str(signer.key), "--keyring", str(signer.cert),
        "bundle", str(content), str(path),
    ]  # fmt: skip
    if mksquashfs_args:
        command.insert(-3, f"--mksquashfs-args={mksquashfs_args}")
    subprocess.run(command, check=True, capture_output=True)
    shutil.rmtree(content)
    return path


def build_squashfs(path: Path, files: dict[str, bytes]) -> Path:
    """A bare squashfs image (``mksquashfs``) holding ``files``: a bundle lookalike without RAUC."""
    content = path.with_suffix(".content")
    shutil.rmtree(content, ignore_errors=True)
    content.mkdir(parents=True)
    for name, data in files.items():
        (content / name).write_bytes(data)
    path.unlink(missing_ok=True)
    subprocess.run(
        ["mksquashfs", str(content), str(path), "-noappend", "-all-root", "-quiet"],
        check=True,
        capture_output=True,
    )
    shutil.rmtree(content)
    return path
