"""hawkBit's offline assignment: rollouts.services.device_record_offline_install."""

from __future__ import annotations

import pytest

from devices.models import Device
from goosebit_project.lib.errors import InvalidInput
from rollouts import services
from rollouts.models import Action, ActionStatus
from tests.factories import make_action, make_device, make_hardware, make_software
from tests.rollouts import ddi_helpers

pytestmark = pytest.mark.django_db


def test_records_a_finished_action_and_the_installed_release(client):
    release = make_software("2.0")
    device = make_device("d", sw_version="1.0")

    action = services.device_record_offline_install(device=device, software=release)

    assert action is not None
    assert (action.status, action.reason, action.software_id) == ("finished", "assigned", release.pk)
    assert action.finished_at is not None
    [note] = ActionStatus.objects.filter(action=action)
    assert (note.execution, note.finished, note.source) == ("closed", "success", "server")
    device.refresh_from_db()
    assert device.installed_action_id == action.pk
    assert (device.sw_version, device.state, device.update_mode) == ("2.0", "finished", "assigned")
    assert device.assigned_software_id == release.pk
    # The device's next poll offers nothing: it runs what it is assigned.
    assert services.device_reconcile(device=device) is None
    assert "deploymentBase" not in ddi_helpers.poll(client, "d")


def test_nothing_to_record_when_busy_or_installed_already():
    release = make_software("2.0")
    busy = make_device("busy")
    make_action(busy, make_software("1.5"), status=Action.Status.RUNNING)
    assert services.device_record_offline_install(device=busy, software=release) is None
    assert not Action.objects.filter(software=release).exists()

    done = make_device("done")
    assert services.device_record_offline_install(device=done, software=release) is not None
    assert services.device_record_offline_install(device=done, software=release) is None
    assert Action.objects.filter(device=done).count() == 1


def test_refused_for_hardware_the_release_does_not_fit():
    release = make_software("2.0", compatibility=[make_hardware("other")])
    device = make_device("d", sw_version="1.0")
    with pytest.raises(InvalidInput):
        services.device_record_offline_install(device=device, software=release)
    assert Device.objects.get(pk=device.pk).sw_version == "1.0"


def test_a_device_without_known_hardware_may_record_anything():
    release = make_software("2.0", compatibility=[make_hardware("other")])
    device = Device.objects.create(controller_id="fresh")
    assert services.device_record_offline_install(device=device, software=release) is not None
