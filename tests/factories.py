"""Small builders for test data; each takes only what a test cares about."""

from __future__ import annotations

import hashlib
import itertools

from django.core.files.base import ContentFile

from devices.models import Device, Hardware
from goosebit_project.lib.tokens import encrypt_token, hash_token
from rollouts.models import Action, Rollout
from software.models import Software

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
    software = Software(
        version=version,
        image_format=image_format,
        filename=filename,
        size=len(content),
        sha1=hashlib.sha1(content).hexdigest(),
        md5=hashlib.md5(content).hexdigest(),
        sha256=sha256,
    )
    software.file.save(f"{sha256}/{filename}", ContentFile(content), save=False)
    software.save()
    software.compatibility.set(compatibility if compatibility is not None else [make_hardware()])
    return software


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
