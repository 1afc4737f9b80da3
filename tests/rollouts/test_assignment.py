"""An explicit assignment creates its action at once (hawkBit): known before the device polls."""

from __future__ import annotations

import pytest

from devices.models import Device
from rollouts import services as rollout_services
from rollouts.models import Action
from tests.factories import make_action, make_device, make_software
from tests.rollouts.ddi_helpers import BASE, feedback, install, offered_action_id, poll

pytestmark = pytest.mark.django_db


def test_assigning_creates_the_action_before_the_device_polls(client):
    software = make_software("2.0.0")
    device = make_device("a", sw_version="1.0.0")

    rollout_services.device_assign_software(device=device, software=software)

    action = Action.objects.get(device=device)
    assert (action.software, action.status, action.reason) == (
        software,
        Action.Status.PENDING,
        Action.Reason.ASSIGNED,
    )
    device.refresh_from_db()
    assert device.state == Device.State.PENDING
    assert offered_action_id(client, "a") == action.pk


def test_an_update_canceled_before_the_first_poll_is_never_offered(client):
    software = make_software("2.0.0")
    device = make_device("a", sw_version="1.0.0")
    rollout_services.device_assign_software(device=device, software=software)

    canceled = rollout_services.device_cancel_update(device=device)

    assert canceled.status == Action.Status.CANCELED
    assert poll(client, "a") == {}
    assert Action.objects.filter(device=device).count() == 1
    # An operator retry offers it again.
    rollout_services.device_retry(device=Device.objects.get(pk=device.pk))
    assert offered_action_id(client, "a") not in (None, canceled.pk)


def test_bulk_assignment_creates_one_action_per_device_that_needs_it():
    software = make_software("2.0.0")
    make_device("old", sw_version="1.0.0")
    make_device("current", sw_version="2.0.0")

    rollout_services.devices_assign_software(
        devices=Device.objects.filter(controller_id__in=["old", "current"]), software=software
    )

    assert list(Action.objects.values_list("device__controller_id", flat=True)) == ["old"]


def test_reassigning_after_a_failure_offers_the_software_again(client):
    software = make_software("2.0.0")
    device = make_device("a", sw_version="1.0.0")
    rollout_services.device_assign_software(device=device, software=software)
    install(client, "a", finished="failure")

    rollout_services.device_assign_software(device=Device.objects.get(pk=device.pk), software=software)

    assert Action.objects.filter(device=device, status=Action.Status.PENDING).count() == 1


def test_a_new_assignment_cancels_a_pending_one_at_once_and_a_started_one_through_the_device(client):
    first, second, third = make_software("2.0.0"), make_software("3.0.0"), make_software("4.0.0")
    device = make_device("a", sw_version="1.0.0")
    rollout_services.device_assign_software(device=device, software=first)
    pending = Action.objects.get(device=device)

    rollout_services.device_assign_software(device=Device.objects.get(pk=device.pk), software=second)

    pending.refresh_from_db()
    assert pending.status == Action.Status.CANCELED
    started = Action.objects.get(device=device, status=Action.Status.PENDING)
    assert client.get(f"{BASE}/a/deploymentBase/{started.pk}").status_code == 200
    assert feedback(client, "a", started.pk, "proceeding") == 200

    rollout_services.device_assign_software(device=Device.objects.get(pk=device.pk), software=third)

    started.refresh_from_db()
    assert started.status == Action.Status.CANCELING
    assert "cancelAction" in poll(client, "a")


def test_an_assignment_the_device_already_runs_creates_nothing():
    software = make_software("2.0.0")
    device = make_device("a", sw_version="2.0.0")
    make_action(device, make_software("0.9.0"), status=Action.Status.FINISHED)

    rollout_services.device_assign_software(device=device, software=software)

    assert not Action.objects.filter(device=device, software=software).exists()


def test_leaving_assigned_mode_drops_an_assignment_the_device_never_started(client):
    software = make_software("2.0.0")
    device = make_device("a", sw_version="1.0.0")
    rollout_services.device_assign_software(device=device, software=software)

    rollout_services.device_pin(device=device)

    assert Action.objects.get(device=device).status == Action.Status.CANCELED
    assert device.state == Device.State.REGISTERED
    assert poll(client, "a") == {}


def test_leaving_assigned_mode_in_bulk_drops_unstarted_assignments_only(client):
    software = make_software("2.0.0")
    unstarted, started = make_device("u", sw_version="1.0.0"), make_device("s", sw_version="1.0.0")
    rollout_services.devices_assign_software(devices=Device.objects.all(), software=software)
    started_action = Action.objects.get(device=started)
    assert client.get(f"{BASE}/s/deploymentBase/{started_action.pk}").status_code == 200

    rollout_services.devices_set_latest(devices=Device.objects.all())

    assert Action.objects.get(device=unstarted).status == Action.Status.CANCELED
    started_action.refresh_from_db()
    assert started_action.status == Action.Status.RUNNING


def test_a_device_that_never_reported_hardware_gets_its_assignment_and_a_retry(client):
    software = make_software("2.0.0")
    device = make_device("a", hardware=None, sw_version="1.0.0")
    device.hardware = None
    device.save(update_fields=["hardware"])

    rollout_services.device_assign_software(device=device, software=software)

    first = offered_action_id(client, "a")
    assert first == Action.objects.get(device=device).pk
    install(client, "a", finished="failure")
    rollout_services.device_retry(device=Device.objects.get(pk=device.pk))
    assert offered_action_id(client, "a") not in (None, first)


def test_a_release_that_lists_no_hardware_may_be_assigned_to_any_device_with_a_warning():
    from rollouts import services as rollout_services
    from tests.factories import make_device, make_hardware, make_software

    device = make_device(hardware=make_hardware())
    unrestricted = make_software("9.0.0", compatibility=[])
    assert unrestricted.compatibility.count() == 0

    rollout_services.device_assign_software(device=device, software=unrestricted)

    device.refresh_from_db()
    assert device.assigned_software == unrestricted
    assert (
        "lists no compatible hardware"
        in rollout_services.device_assignment_warnings(device=device, software=unrestricted)[0]
    )
    assert not rollout_services.devices_incompatible_with(
        devices=type(device).objects.all(), software=unrestricted
    )


def test_bulk_assignment_offers_releases_that_list_no_hardware():
    from devices.models import Device
    from rollouts import selectors as rollout_selectors
    from tests.factories import make_device, make_hardware, make_software

    make_device("a", hardware=make_hardware("a"))
    make_device("b", hardware=make_hardware("b"))
    unrestricted = make_software("3.0.0", compatibility=[])
    only_a = make_software("2.0.0", compatibility=[make_hardware("a")])

    offered = rollout_selectors.software_compatible_with_all(devices=Device.objects.all())

    assert unrestricted in offered
    assert only_a not in offered
