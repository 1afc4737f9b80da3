"""The services behind the admin's device screens: one device and many at once."""

from __future__ import annotations

import pytest

from devices import services
from devices.models import Device
from goosebit_project.lib.errors import InvalidInput
from goosebit_project.lib.tokens import token_matches
from rollouts import services as rollout_services
from rollouts.models import Action
from tests.factories import make_action, make_device, make_hardware, make_software

pytestmark = pytest.mark.django_db


def test_device_configure_applies_each_mode_through_its_service():
    device = make_device("d1", name="old")
    software = make_software("2.0.0")

    rollout_services.device_configure(
        device=device, name="new", update_mode="assigned", feed="x", assigned_software=software
    )
    device.refresh_from_db()
    assert (device.name, device.update_mode, device.assigned_software) == ("new", "assigned", software)

    rollout_services.device_configure(
        device=device, name="new", update_mode="rollout", feed=" beta ", assigned_software=None
    )
    device.refresh_from_db()
    assert (device.update_mode, device.feed, device.assigned_software) == ("rollout", "beta", None)

    rollout_services.device_configure(
        device=device, name="", update_mode="latest", feed="beta", assigned_software=None
    )
    device.refresh_from_db()
    assert (device.name, device.update_mode) == ("", "latest")

    rollout_services.device_configure(
        device=device, name="", update_mode="pinned", feed="beta", assigned_software=None
    )
    device.refresh_from_db()
    assert device.update_mode == "pinned"


@pytest.mark.parametrize(
    ("mode", "feed", "with_software", "message"),
    [
        ("rollout", "  ", False, "a feed name is required for rollout mode"),
        ("assigned", "default", False, "choose the software to assign"),
        ("sideways", "default", False, "unknown update mode 'sideways'"),
    ],
)
def test_device_validate_configuration_names_the_problem(mode, feed, with_software, message):
    device = make_device("d1")

    with pytest.raises(InvalidInput) as error:
        rollout_services.device_validate_configuration(
            device=device, update_mode=mode, feed=feed, assigned_software=None
        )

    assert error.value.message == message


def test_device_validate_configuration_refuses_incompatible_software():
    device = make_device("d1", hardware=make_hardware("rpi4", "1"))
    other = make_software("2.0.0", compatibility=[make_hardware("imx8", "B")])

    with pytest.raises(InvalidInput, match="not compatible with d1's hardware rpi4 1"):
        rollout_services.device_validate_configuration(
            device=device, update_mode="assigned", feed="", assigned_software=other
        )


def test_devices_set_feed_moves_every_device_to_rollout_mode():
    software = make_software("2.0.0")
    make_device("a", update_mode="assigned", assigned_software=software)
    make_device("b", update_mode="pinned")

    changed = rollout_services.devices_set_feed(devices=Device.objects.all(), feed=" beta ")

    assert changed == 2
    assert list(Device.objects.values_list("update_mode", "feed", "assigned_software")) == [
        ("rollout", "beta", None),
        ("rollout", "beta", None),
    ]


def test_devices_set_feed_refuses_an_empty_feed():
    make_device("a", feed="default")

    with pytest.raises(InvalidInput, match="a feed name is required"):
        rollout_services.devices_set_feed(devices=Device.objects.all(), feed=" ")

    assert Device.objects.get().feed == "default"


def test_devices_latest_pin_and_unpin():
    make_device("a", update_mode="pinned", feed="")
    make_device("b", update_mode="pinned", feed="beta")
    make_device("c", update_mode="latest")

    assert rollout_services.devices_unpin(devices=Device.objects.all()) == 2
    assert dict(Device.objects.values_list("controller_id", "feed")) == {
        "a": "default",
        "b": "beta",
        "c": "default",
    }
    assert dict(Device.objects.values_list("controller_id", "update_mode")) == {
        "a": "rollout",
        "b": "rollout",
        "c": "latest",
    }

    assert rollout_services.devices_pin(devices=Device.objects.filter(controller_id="a")) == 1
    assert rollout_services.devices_set_latest(devices=Device.objects.exclude(controller_id="c")) == 2
    assert set(Device.objects.values_list("update_mode", flat=True)) == {"latest"}


def test_devices_assign_software_needs_every_known_hardware_compatible():
    rpi, imx = make_hardware("rpi4", "1"), make_hardware("imx8", "B")
    software = make_software("2.0.0", compatibility=[rpi])
    make_device("rpi-1", hardware=rpi)
    make_device("imx-1", hardware=imx)
    make_device("new-1")
    Device.objects.filter(controller_id="new-1").update(hardware=None)

    with pytest.raises(InvalidInput) as error:
        rollout_services.devices_assign_software(devices=Device.objects.all(), software=software)

    assert (
        error.value.message == "software 2.0.0 (update-2.0.0.swu) does not fit every selected device: imx-1"
    )
    assert set(Device.objects.values_list("update_mode", flat=True)) == {"rollout"}

    # A device that has not reported its hardware is assigned unchecked, as in hawkBit.
    fitting = Device.objects.exclude(controller_id="imx-1")
    assert rollout_services.devices_assign_software(devices=fitting, software=software) == 2
    assert Device.objects.get(controller_id="rpi-1").assigned_software == software
    assert Device.objects.get(controller_id="new-1").assigned_software == software


def test_device_assign_software_to_unknown_hardware_works_and_warns():
    software = make_software("2.0.0", compatibility=[make_hardware("rpi4", "1")])
    device = make_device("new-1")
    Device.objects.filter(pk=device.pk).update(hardware=None)
    device.refresh_from_db()

    rollout_services.device_assign_software(device=device, software=software)

    device.refresh_from_db()
    assert (device.update_mode, device.assigned_software) == (Device.UpdateMode.ASSIGNED, software)
    assert rollout_services.device_assignment_warnings(device=device, software=software) == [
        "device new-1 has not reported its hardware, so the compatibility of software 2.0.0 "
        "(update-2.0.0.swu) with it was not checked"
    ]


def test_device_assign_software_still_refuses_incompatible_known_hardware():
    software = make_software("2.0.0", compatibility=[make_hardware("rpi4", "1")])
    device = make_device("imx-1", hardware=make_hardware("imx8", "B"))

    with pytest.raises(InvalidInput, match="is not compatible with imx-1's hardware imx8 B"):
        rollout_services.device_assign_software(device=device, software=software)

    device.refresh_from_db()
    assert device.update_mode == Device.UpdateMode.ROLLOUT
    assert rollout_services.device_assignment_warnings(device=device, software=software) == []


def test_devices_retry_failed_touches_only_failed_devices():
    make_device("failed", state=Device.State.ERROR)
    make_device("fine", state=Device.State.FINISHED)

    assert rollout_services.devices_retry_failed(devices=Device.objects.all()) == 1

    assert dict(Device.objects.values_list("controller_id", "force_update")) == {
        "failed": True,
        "fine": False,
    }
    assert Device.objects.get(controller_id="failed").state == Device.State.REGISTERED


def test_devices_force_update_flags_every_device():
    make_device("a")
    make_device("b")

    assert rollout_services.devices_force_update(devices=Device.objects.all()) == 2
    assert set(Device.objects.values_list("force_update", flat=True)) == {True}


def test_devices_cancel_updates_cancels_pending_at_once_and_asks_running_devices():
    software = make_software("2.0.0")
    pending = make_device("pending", state=Device.State.PENDING)
    running = make_device("running", state=Device.State.RUNNING)
    idle = make_device("idle")
    make_action(pending, software, status=Action.Status.PENDING)
    make_action(running, software, status=Action.Status.RUNNING)

    assert rollout_services.devices_cancel_updates(devices=Device.objects.all()) == 2

    assert dict(Action.objects.values_list("device__controller_id", "status")) == {
        "pending": "canceled",
        "running": "canceling",
    }
    assert dict(Device.objects.values_list("controller_id", "state")) == {
        "pending": "registered",
        "running": "canceling",
        "idle": idle.state,
    }


def test_devices_rotate_tokens_returns_a_new_token_per_device_and_stores_only_hashes():
    make_device("a", token="old-a")
    make_device("b")

    pairs = services.devices_rotate_tokens(devices=Device.objects.all())

    assert [device.controller_id for device, _ in pairs] == ["a", "b"]
    tokens = [token for _, token in pairs]
    assert len(set(tokens)) == 2 and all(len(token) == 32 for token in tokens)
    stored = dict(Device.objects.values_list("controller_id", "token_hash"))
    assert token_matches(tokens[0], stored["a"]) and token_matches(tokens[1], stored["b"])
    assert not token_matches("old-a", stored["a"])
    assert tokens[0] not in stored.values()


def test_device_validate_token_strips_and_refuses_spaces():
    assert services.device_validate_token(token="  abc ") == "abc"
    with pytest.raises(InvalidInput, match="without spaces"):
        services.device_validate_token(token="a b")


def test_devices_delete_removes_devices_with_their_history():
    software = make_software("2.0.0")
    device = make_device("a")
    make_action(device, software, status=Action.Status.FINISHED)
    make_device("b")

    assert services.devices_delete(devices=Device.objects.filter(controller_id="a")) == 1

    assert list(Device.objects.values_list("controller_id", flat=True)) == ["b"]
    assert Action.objects.count() == 0


def test_device_validate_controller_id_names_the_problem():
    assert services.device_validate_controller_id(controller_id="gw-1") == "gw-1"
    for bad, message in [
        ("", "needs a controller id"),
        (" gw", "spaces"),
        ("a/b", "'/'"),
        ("x" * 257, "256"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            services.device_validate_controller_id(controller_id=bad)
