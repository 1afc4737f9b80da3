"""Small builders for test data; each takes only what a test cares about."""

from __future__ import annotations

import hashlib
import itertools

from django.core.files.base import ContentFile

from devices.models import Device, Hardware
from goosebit_project.lib.tokens import encrypt_token, hash_token
from rollouts.models import Action, Rollout
from software.models import Artifact, Software, SoftwareModule, SoftwareModuleType
from software.services import package_module_type

_counter = itertools.count(1)


def make_hardware(model: str = "board", revision: str = "1") -> Hardware:
    hardware, _ = Hardware.objects.get_or_create(model=model, revision=revision)
    return hardware


def make_device(
    controller_id: str | None = None,
    *,
    hardware: Hardware | None = None,
    token: str | None = None,
    **fields,
) -> Device:
    controller_id = controller_id or f"device-{next(_counter)}"
    if hardware is None:
        hardware = make_hardware()
    fields.setdefault("state", Device.State.REGISTERED)
    fields.setdefault("request_attributes", False)
    if token:
        fields.setdefault("token_hash", hash_token(token))
        fields.setdefault("token_encrypted", encrypt_token(token))
    return Device.objects.create(controller_id=controller_id, hardware=hardware, **fields)


def make_software(
    version: str = "1.0.0",
    *,
    compatibility: list[Hardware] | None = None,
    content: bytes | None = None,
    filename: str | None = None,
    image_format: str = Software.ImageFormat.SWU,
) -> Software:
    content = content if content is not None else f"package {version} {next(_counter)}".encode()
    extension = "swu" if image_format == Software.ImageFormat.SWU else "raucb"
    filename = filename or f"update-{version}.{extension}"
    sha256 = hashlib.sha256(content).hexdigest()
    name = filename
    while SoftwareModule.objects.filter(type__key="os", name=name, version=version).exists():
        name = f"{filename} ({next(_counter)})"
    module = SoftwareModule.objects.create(type=package_module_type(), name=name, version=version)
    artifact = Artifact(
        module=module,
        image_format=image_format,
        filename=filename,
        size=len(content),
        sha1=hashlib.sha1(content).hexdigest(),
        md5=hashlib.md5(content).hexdigest(),
        sha256=sha256,
    )
    artifact.file.save(f"{sha256}/{filename}", ContentFile(content), save=False)
    artifact.save()
    software = Software.objects.create(name=filename, version=version)
    software.modules.add(module)
    software.compatibility.set(compatibility if compatibility is not None else [make_hardware()])
    return software


def make_remote_software(url: str, *, version: str = "1.0", filename: str = "u.swu", **hashes) -> Software:
    """A package release whose artifact lives at ``url`` (nothing stored)."""
    module = SoftwareModule.objects.create(type=package_module_type(), name=filename, version=version)
    Artifact.objects.create(
        module=module,
        image_format="swu",
        url=url,
        filename=filename,
        size=hashes.get("size", 1234),
        sha1=hashes.get("sha1", "a" * 40),
        md5=hashes.get("md5", "b" * 32),
        sha256=hashes.get("sha256", "c" * 64),
    )
    software = Software.objects.create(name=filename, version=version)
    software.modules.add(module)
    return software


def make_module(
    *, type_key: str = "application", name: str | None = None, version: str = "1.0", files: dict | None = None
) -> SoftwareModule:
    """A module with raw artifacts ``{filename: bytes}``."""
    module_type = SoftwareModuleType.objects.get_or_create(key=type_key, defaults={"name": type_key})[0]
    module = SoftwareModule.objects.create(
        type=module_type, name=name or f"module {next(_counter)}", version=version
    )
    for filename, content in (files or {}).items():
        artifact = Artifact(
            module=module,
            filename=filename,
            size=len(content),
            sha1=hashlib.sha1(content).hexdigest(),
            md5=hashlib.md5(content).hexdigest(),
            sha256=hashlib.sha256(content).hexdigest(),
        )
        artifact.file.save(f"{artifact.sha256}/{filename}", ContentFile(content), save=False)
        artifact.save()
    return module


def make_rollout(
    software: Software,
    *,
    feed: str = "default",
    status: str = Rollout.Status.RUNNING,
    **fields,
) -> Rollout:
    fields.setdefault("name", f"rollout {next(_counter)}")
    return Rollout.objects.create(software=software, feed=feed, status=status, **fields)


def make_action(device: Device, software: Software, **fields) -> Action:
    fields.setdefault("reason", Action.Reason.ASSIGNED)
    return Action.objects.create(device=device, software=software, **fields)
