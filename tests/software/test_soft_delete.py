"""A soft-deleted release stays for history but is never offered again, whichever door is used."""

from __future__ import annotations

import pytest

from devices.models import Device
from goosebit_project.lib.errors import InvalidInput
from rollouts import selectors as rollout_selectors
from rollouts import services as rollout_services
from software import services
from software.exceptions import SoftwareError, SoftwareInUse
from software.models import Software
from tests.factories import make_action, make_device, make_hardware, make_module, make_rollout, make_software

pytestmark = pytest.mark.django_db


@pytest.fixture
def board():
    return make_hardware("board", "1")


@pytest.fixture
def deleted(board) -> Software:
    release = make_software("2.0", compatibility=[board])
    make_action(make_device(hardware=board), release, status="finished")
    assert services.release_delete(software=release) is True
    release.refresh_from_db()
    return release


def test_release_delete_is_soft_with_history_and_hard_without(board):
    used = make_software("1.0", compatibility=[board])
    make_rollout(used, status="draft")
    assert services.release_delete(software=used) is True
    assert Software.objects.get(pk=used.pk).deleted is True
    unused = make_software("1.1", compatibility=[board])
    assert services.release_delete(software=unused) is False
    assert not Software.objects.filter(pk=unused.pk).exists()


def test_a_deleted_release_is_not_offered_to_bulk_assignments(board, deleted):
    with pytest.raises(InvalidInput, match="is deleted"):
        rollout_services.devices_assign_software(devices=Device.objects.all(), software=deleted)
    assert deleted not in rollout_selectors.software_compatible_with_all(devices=Device.objects.all())


def test_a_device_keeps_an_assignment_made_before_the_delete(board):
    release = make_software("2.0", compatibility=[board])
    device = make_device(hardware=board)
    rollout_services.device_assign_software(device=device, software=release)
    services.release_delete(software=release)
    release.refresh_from_db()
    assert release.deleted is True
    device.refresh_from_db()
    rollout_services.device_validate_configuration(
        device=device, update_mode=Device.UpdateMode.ASSIGNED, feed="", assigned_software=release
    )


def test_the_admin_offers_no_deleted_release_to_a_device_or_a_rollout(admin_client, board, deleted):
    live = make_software("1.0", compatibility=[board])
    device = make_device(hardware=board)
    page = admin_client.get(f"/admin/devices/device/{device.pk}/change/").content.decode()
    assert f'<option value="{live.pk}"' in page
    assert f'<option value="{deleted.pk}"' not in page
    page = admin_client.get("/admin/rollouts/rollout/add/").content.decode()
    assert f'<option value="{live.pk}"' in page
    assert f'<option value="{deleted.pk}"' not in page


def test_the_admin_lists_deleted_releases_behind_a_filter(admin_client, deleted):
    response = admin_client.get("/admin/software/software/?deleted__exact=1")
    assert response.status_code == 200
    assert deleted.version in response.content.decode()


def test_a_deleted_module_joins_no_release():
    module = make_module(type_key="os")
    module.deleted = True
    module.save()
    with pytest.raises(SoftwareError, match="is deleted"):
        services.release_create(name="r", version="1", modules=[module])


def test_a_module_only_unused_releases_hold_is_refused_not_deleted():
    release = make_software("1.0")
    with pytest.raises(SoftwareInUse, match="is part of"):
        services.module_delete(module=release.modules.get())


@pytest.mark.django_db(transaction=True)
def test_the_migration_types_existing_releases_whose_modules_fit_the_default():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("software", "0004_drop_package_fields_from_release")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old_apps = executor.loader.project_state(before).apps
        ModuleType = old_apps.get_model("software", "SoftwareModuleType")
        Module = old_apps.get_model("software", "SoftwareModule")
        OldSoftware = old_apps.get_model("software", "Software")
        # A transactional test may start from a flushed database: no seeded types.
        os_type, _ = ModuleType.objects.get_or_create(key="os", defaults={"name": "OS", "max_assignments": 1})
        firmware = ModuleType.objects.create(key="firmware", name="Firmware")
        os_module = Module.objects.create(type=os_type, name="os", version="1")
        fw_module = Module.objects.create(type=firmware, name="fw", version="1")
        fitting = OldSoftware.objects.create(name="a", version="1")
        fitting.modules.add(os_module)
        other = OldSoftware.objects.create(name="b", version="2")
        other.modules.add(os_module, fw_module)
    finally:
        # Whatever happened, leave the schema at the latest migration for the tests that follow.
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

    assert Software.objects.get(pk=fitting.pk).type.key == "os_app"
    assert Software.objects.get(pk=other.pk).type is None
    assert not Software.objects.filter(deleted=True).exists()
