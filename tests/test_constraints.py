"""The database refuses what the domain forbids, whatever code path tries it."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from devices.models import Device, Hardware
from rollouts.models import Action
from software.models import Artifact
from tests.factories import make_action, make_device, make_hardware, make_module, make_rollout, make_software

pytestmark = pytest.mark.django_db


def test_controller_id_is_unique():
    make_device("dev-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Device.objects.create(controller_id="dev-1")


def test_hardware_model_and_revision_are_unique_together():
    make_hardware("board", "1")
    Hardware.objects.create(model="board", revision="2")
    with pytest.raises(IntegrityError), transaction.atomic():
        Hardware.objects.create(model="board", revision="1")


def test_a_device_has_at_most_one_active_action():
    device = make_device()
    software = make_software()
    make_action(device, software, status=Action.Status.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_action(device, software, status=Action.Status.PENDING)


def test_finished_actions_do_not_count_as_active():
    device = make_device()
    software = make_software()
    make_action(device, software, status=Action.Status.FINISHED)
    make_action(device, software, status=Action.Status.ERROR)
    make_action(device, software, status=Action.Status.CANCELED)
    make_action(device, software, status=Action.Status.PENDING)
    assert device.actions.count() == 4


def test_software_referenced_by_a_rollout_cannot_be_deleted():
    software = make_software()
    make_rollout(software)
    with pytest.raises(ProtectedError):
        software.delete()


def test_software_referenced_by_an_action_cannot_be_deleted():
    software = make_software()
    make_action(make_device(), software, status=Action.Status.FINISHED)
    with pytest.raises(ProtectedError):
        software.delete()


def test_unreferenced_software_can_be_deleted():
    software = make_software()
    software.delete()


def test_invalid_state_is_refused_by_the_database():
    device = make_device()
    with pytest.raises(IntegrityError), transaction.atomic():
        Device.objects.filter(pk=device.pk).update(state="bogus")


def test_an_artifact_needs_exactly_one_of_file_and_url():
    package = make_software().package
    with pytest.raises(IntegrityError), transaction.atomic():
        Artifact.objects.filter(pk=package.pk).update(url="https://example.com/a.swu")


def test_raw_artifacts_may_share_bytes_but_packages_may_not():
    make_module(files={"a.cfg": b"same"})
    make_module(files={"a.cfg": b"same"})
    package = make_software(content=b"pkg").package
    with pytest.raises(IntegrityError), transaction.atomic():
        Artifact.objects.create(
            module=package.module, filename="copy.swu", image_format="swu", size=3,
            sha1=package.sha1, md5=package.md5, sha256=package.sha256, url="https://example.com/c.swu",
        )  # fmt: skip


def test_a_module_holds_a_file_name_once():
    module = make_module(files={"a.cfg": b"1"})
    with pytest.raises(IntegrityError), transaction.atomic():
        Artifact.objects.create(
            module=module, filename="a.cfg", size=1, sha1="a", md5="b", sha256="c", url="https://e.com/a"
        )


def test_same_package_bytes_are_refused_twice():
    make_software(content=b"same bytes")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_software(version="2.0.0", content=b"same bytes")


@pytest.mark.parametrize(
    "fields",
    [
        {"action_type": "later"},
        {"action_type": "timeforced"},  # without a forcetime
        {"weight": 1001},
        {"maintenance_schedule": "0 30 2 ? * *"},  # without duration and time zone
        {"maintenance_schedule": "0 30 2 ? * *", "maintenance_duration": "01:00:00"},
    ],
)
def test_deployment_options_the_services_refuse_are_refused_by_the_database(fields):
    device, software = make_device(), make_software()
    with pytest.raises(IntegrityError), transaction.atomic():
        make_action(device, software, **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_rollout(software, **fields)


def test_an_action_waiting_for_confirmation_is_the_devices_one_active_action():
    device = make_device()
    software = make_software()
    make_action(device, software, status=Action.Status.WAIT_FOR_CONFIRMATION)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_action(device, software, status=Action.Status.PENDING)


def test_an_unknown_action_status_is_refused():
    with pytest.raises(IntegrityError), transaction.atomic():
        make_action(make_device(), make_software(), status="waiting")
