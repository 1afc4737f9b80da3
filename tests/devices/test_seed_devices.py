"""seed_devices: bulk-created devices look like registered devices that sent their configData."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from devices.models import Device, Hardware
from goosebit_project.lib.tokens import decrypt_token, token_matches

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_devices", *args, stdout=out)
    return out.getvalue()


def test_seed_devices_creates_registered_devices_with_hardware_and_version():
    output = seed("--count", "3", "--prefix", "bench-", "--feed", "lab", "--hardware", "rpi:4", "--json")

    assert json.loads(output) | {"seconds": 0} == {
        "requested": 3,
        "created": 3,
        "existing": 0,
        "first": "bench-00001",
        "last": "bench-00003",
        "feed": "lab",
        "hardware": {"model": "rpi", "revision": "4"},
        "sw_version": "1.0.0",
        "token": False,
        "generated_tokens": False,
        "seconds": 0,
    }
    devices = list(Device.objects.order_by("controller_id"))
    assert [device.controller_id for device in devices] == ["bench-00001", "bench-00002", "bench-00003"]
    hardware = Hardware.objects.get(model="rpi", revision="4")
    for device in devices:
        assert device.hardware == hardware
        assert device.feed == "lab"
        assert device.sw_version == "1.0.0"
        assert device.state == Device.State.REGISTERED
        assert device.request_attributes is False
        assert device.last_seen is not None
        assert device.attributes == {"hw_boardname": "rpi", "hw_revision": "4", "sw_version": "1.0.0"}


def test_seed_devices_again_keeps_existing_devices_and_adds_the_missing_ones():
    seed("--count", "2")

    output = seed("--count", "4", "--width", "3")
    second = seed("--count", "2", "--json")

    assert "Created 4 devices dev-001 .. dev-004 (0 existed)" in output
    assert json.loads(second)["created"] == 0
    assert json.loads(second)["existing"] == 2
    assert Device.objects.count() == 6


def test_seed_devices_stores_each_device_token_hashed_and_encrypted():
    seed("--count", "2", "--token", "secret-{id}")

    device = Device.objects.get(controller_id="dev-00002")
    assert "secret-dev-00002" not in device.token_hash + device.token_encrypted
    assert token_matches("secret-dev-00002", device.token_hash)
    assert not token_matches("secret-dev-00001", device.token_hash)
    assert decrypt_token(device.token_encrypted) == "secret-dev-00002"


def test_seed_devices_generates_a_token_each_under_strict_authentication(settings):
    settings.GOOSEBIT_DEVICE_AUTH_ENABLE = True
    settings.GOOSEBIT_DEVICE_AUTH_MODE = "strict"

    summary = json.loads(seed("--count", "2", "--json"))

    assert (summary["token"], summary["generated_tokens"]) == (False, True)
    readable = [decrypt_token(device.token_encrypted) for device in Device.objects.order_by("controller_id")]
    assert all(token and len(token) == 32 for token in readable) and readable[0] != readable[1]
    device = Device.objects.get(controller_id="dev-00001")
    assert readable[0] is not None and token_matches(readable[0], device.token_hash)


def test_seed_devices_without_a_revision_uses_the_default_revision():
    seed("--count", "1", "--hardware", "board")

    assert Device.objects.get().hardware == Hardware.objects.get(model="board", revision="default")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "0"], "--count must be between 1"),
        (["--count", "1", "--width", "0"], "--width 1..20"),
        (["--count", "1", "--prefix", "x" * 300], "limit is 256"),
        (["--count", "1", "--hardware", ":1"], "--hardware must be"),
        (["--count", "1", "--token", "t" * 200], "--token would be longer"),
    ],
)
def test_seed_devices_rejects_bad_arguments_and_creates_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        seed(*args)

    assert Device.objects.count() == 0
    assert Hardware.objects.count() == 0
