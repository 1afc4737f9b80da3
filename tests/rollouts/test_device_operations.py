"""Operator commands on single devices: pre-register, edit, cancel an update, force-quit a cancel."""

from __future__ import annotations

import pytest

from devices import services as device_services
from devices.models import Device
from goosebit_project.lib.errors import Conflict, InvalidInput
from goosebit_project.lib.tokens import token_matches
from rollouts import services as rollout_services
from rollouts.models import Action
from tests.factories import make_device, make_rollout, make_software
from tests.rollouts.ddi_helpers import BASE, feedback, offered_action_id, poll

pytestmark = pytest.mark.django_db


def test_pre_registering_a_device_stores_only_the_token_hash():
    device = device_services.device_create(controller_id="dev-1", name=" Lab ", feed="beta", token="s3cret")
    device.refresh_from_db()
    assert (device.controller_id, device.name, device.feed, device.state, device.update_mode) == (
        "dev-1",
        "Lab",
        "beta",
        Device.State.UNKNOWN,
        Device.UpdateMode.ROLLOUT,
    )
    assert token_matches("s3cret", device.token_hash)
    assert "s3cret" not in device.token_hash


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"controller_id": ""}, "a device needs a controller id"),
        ({"controller_id": " dev"}, "a controller id must not start or end with spaces"),
        ({"controller_id": "a/b"}, "a controller id must not contain '/'"),
        ({"controller_id": "x" * 257}, "a controller id is at most 256 characters"),
        ({"controller_id": "dev", "feed": " "}, "a feed name must not be empty"),
        (
            {"controller_id": "dev", "token": "has space"},
            "a device token is 1 to 128 characters without spaces",
        ),
    ],
)
def test_pre_registering_refuses_bad_input_and_writes_nothing(kwargs, message):
    with pytest.raises(InvalidInput) as error:
        device_services.device_create(**kwargs)
    assert error.value.message == message
    assert not Device.objects.exists()


def test_pre_registering_an_existing_device_is_a_conflict():
    make_device("dev-1")
    with pytest.raises(Conflict, match="device dev-1 exists already"):
        device_services.device_create(controller_id="dev-1")


def test_editing_name_and_feed_keeps_the_update_mode():
    device = make_device("dev-1", update_mode=Device.UpdateMode.LATEST)
    device_services.device_update(device=device, name="kiosk", feed="beta")
    device.refresh_from_db()
    assert (device.name, device.feed, device.update_mode) == ("kiosk", "beta", Device.UpdateMode.LATEST)


def test_canceling_an_update_the_device_never_started_closes_it_at_once(client):
    make_rollout(make_software("2.0.0"))
    device = make_device("dev-1", sw_version="1.0.0")
    action_id = offered_action_id(client, "dev-1")

    action = rollout_services.device_cancel_update(device=device)

    assert action.pk == action_id
    assert Action.objects.get(pk=action_id).status == Action.Status.CANCELED
    device.refresh_from_db()
    assert device.state == Device.State.REGISTERED
    assert poll(client, "dev-1") == {}


def test_canceling_a_running_update_asks_the_device_and_force_quit_closes_it(client):
    make_rollout(make_software("2.0.0"))
    device = make_device("dev-1", sw_version="1.0.0")
    action_id = offered_action_id(client, "dev-1")
    assert action_id is not None
    assert feedback(client, "dev-1", action_id, "proceeding") == 200

    rollout_services.device_cancel_update(device=device)

    assert Action.objects.get(pk=action_id).status == Action.Status.CANCELING
    assert poll(client, "dev-1")["cancelAction"]["href"].endswith(f"{BASE}/dev-1/cancelAction/{action_id}")

    rollout_services.device_force_quit(device=Device.objects.get(pk=device.pk))

    assert Action.objects.get(pk=action_id).status == Action.Status.CANCELED
    device.refresh_from_db()
    assert device.state == Device.State.REGISTERED
    assert poll(client, "dev-1") == {}


def test_canceling_a_device_without_an_update_is_a_clear_conflict():
    device = make_device("dev-1")
    with pytest.raises(Conflict) as error:
        rollout_services.device_cancel_update(device=device)
    assert error.value.message == "device dev-1 has no update under way to cancel"


def test_force_quit_without_a_pending_cancel_is_a_clear_conflict(client):
    make_rollout(make_software("2.0.0"))
    device = make_device("dev-1", sw_version="1.0.0")
    action_id = offered_action_id(client, "dev-1")
    with pytest.raises(Conflict) as error:
        rollout_services.device_force_quit(device=device)
    assert error.value.message == (
        "device dev-1 has no update being canceled; "
        "force-quit applies only after a cancel the device has not confirmed"
    )
    assert action_id is not None
    assert Action.objects.get(pk=action_id).status == Action.Status.PENDING


def test_deleting_a_device_removes_its_history():
    device = make_device("dev-1")
    software = make_software()
    Action.objects.create(device=device, software=software, reason=Action.Reason.ASSIGNED)
    device_services.device_delete(device=device)
    assert not Device.objects.exists()
    assert not Action.objects.exists()
