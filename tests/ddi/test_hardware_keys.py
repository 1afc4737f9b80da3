"""Which configData keys name a device's hardware, and the default hardware for devices that name none."""

from __future__ import annotations

import pytest
from django.test import override_settings

from devices.models import Device
from rollouts.models import Action
from tests.ddi.helpers import known_device, links_of, put_config
from tests.factories import make_hardware, make_rollout, make_software

pytestmark = pytest.mark.django_db


def _hardware_of(controller_id: str) -> tuple[str, str] | None:
    device = Device.objects.select_related("hardware").get(controller_id=controller_id)
    return None if device.hardware is None else (device.hardware.model, device.hardware.revision)


def _unreported(controller_id: str) -> Device:
    device = known_device(controller_id, attributes={})
    Device.objects.filter(pk=device.pk).update(hardware=None)
    return device


@override_settings(GOOSEBIT_HARDWARE_MODEL_KEYS=["model"], GOOSEBIT_HARDWARE_REVISION_KEYS=["rev"])
def test_the_hardware_keys_come_from_the_settings(ddi_client):
    _unreported("dev-1")

    response = put_config(ddi_client, "dev-1", {"data": {"model": "rpi4", "rev": "1.2", "hw_boardname": "x"}})

    assert response.status_code == 200
    assert _hardware_of("dev-1") == ("rpi4", "1.2")


@override_settings(GOOSEBIT_HARDWARE_MODEL_KEYS=["hw_boardname", "model"])
def test_the_first_model_key_present_wins(ddi_client):
    _unreported("both")
    _unreported("model-only")

    put_config(ddi_client, "both", {"data": {"model": "imx8", "hw_boardname": "rpi4", "hw_revision": "2"}})
    put_config(ddi_client, "model-only", {"data": {"model": "imx8", "hw_revision": "2"}})

    assert _hardware_of("both") == ("rpi4", "2")
    assert _hardware_of("model-only") == ("imx8", "2")


@override_settings(GOOSEBIT_HARDWARE_MODEL_KEYS=["model"])
def test_a_model_without_a_configured_revision_key_gets_revision_default(ddi_client):
    _unreported("dev-1")

    put_config(ddi_client, "dev-1", {"data": {"model": "rpi4", "revision": "9"}})

    assert _hardware_of("dev-1") == ("rpi4", "default")


def test_without_default_hardware_a_device_naming_no_model_stays_without_hardware(ddi_client):
    _unreported("dev-1")

    put_config(ddi_client, "dev-1", {"data": {"model": "rpi4", "sw_version": "1.0.0"}})

    assert _hardware_of("dev-1") is None


@override_settings(GOOSEBIT_DEFAULT_HARDWARE=("default", "default"))
def test_default_hardware_lets_a_device_naming_no_model_join_a_rollout(ddi_client):
    _unreported("dev-1")
    software = make_software("2.0.0", compatibility=[make_hardware("default", "default")])
    rollout = make_rollout(software)

    assert put_config(ddi_client, "dev-1", {"data": {"sw_version": "1.0.0"}}).status_code == 200
    links = links_of(ddi_client, "dev-1")

    assert _hardware_of("dev-1") == ("default", "default")
    assert "deploymentBase" in links
    action = Action.objects.get(device__controller_id="dev-1")
    assert (action.software, action.rollout) == (software, rollout)


@override_settings(GOOSEBIT_DEFAULT_HARDWARE=("default", "default"))
def test_default_hardware_does_not_replace_reported_hardware(ddi_client):
    known_device("dev-1", hardware=make_hardware("rpi4", "1"), attributes={})

    put_config(ddi_client, "dev-1", {"data": {"sw_version": "1.0.0"}, "mode": "replace"})

    assert _hardware_of("dev-1") == ("rpi4", "1")


@override_settings(GOOSEBIT_DEFAULT_HARDWARE=("default", "default"))
def test_a_named_model_wins_over_the_default_hardware(ddi_client):
    _unreported("dev-1")

    put_config(ddi_client, "dev-1", {"data": {"hw_boardname": "rpi4"}})

    assert _hardware_of("dev-1") == ("rpi4", "default")
