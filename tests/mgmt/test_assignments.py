"""assignedDS / installedDS both ways, online and offline, and what the device then sees over DDI."""

from __future__ import annotations

import pytest
from django.utils import timezone

from devices.models import Device
from rollouts.models import Action, ActionStatus
from tests.factories import make_action, make_device, make_hardware, make_software
from tests.rollouts import ddi_helpers

pytestmark = pytest.mark.django_db

BASE = "http://testserver/rest/v1"
ASSIGNER = ("view_device", "change_device", "view_software")


@pytest.fixture
def release():
    return make_software("2.0")


def _new_action(cid: str) -> Action:
    return Action.objects.filter(device__controller_id=cid).latest("pk")


# --- POST /targets/{id}/assignedDS ------------------------------------------------------------


def test_assign_answers_hawkbits_counts_and_the_action(mgmt, release):
    make_device("d", sw_version="1.0")
    response = mgmt.post("targets/d/assignedDS", {"id": release.pk, "type": "soft", "weight": 500})
    assert response.status_code == 200
    action = _new_action("d")
    assert response.json() == {
        "alreadyAssigned": 0,
        "assignedActions": [
            {"id": action.pk, "_links": {"self": {"href": f"{BASE}/targets/d/actions/{action.pk}"}}}
        ],
        "assigned": 1,
        "total": 1,
    }
    assert (action.action_type, action.weight, action.software_id) == ("soft", 500, release.pk)
    device = Device.objects.get(controller_id="d")
    assert (device.update_mode, device.assigned_software_id) == (Device.UpdateMode.ASSIGNED, release.pk)


def test_assign_takes_a_list_of_one(mgmt, release):
    make_device("d", sw_version="1.0")
    response = mgmt.post("targets/d/assignedDS", [{"id": release.pk}])
    assert response.json()["assigned"] == 1
    assert _new_action("d").action_type == "forced"


def test_assigning_again_counts_as_already_assigned(mgmt, release):
    make_device("d", sw_version="1.0")
    mgmt.post("targets/d/assignedDS", {"id": release.pk})
    body = mgmt.post("targets/d/assignedDS", {"id": release.pk}).json()
    assert (body["assigned"], body["alreadyAssigned"], body["total"], body["assignedActions"]) == (
        0,
        1,
        1,
        [],
    )
    assert Action.objects.count() == 1


def test_the_device_sees_the_assignment_over_ddi(mgmt, client, release):
    make_device("d", sw_version="1.0")
    body = mgmt.post(
        "targets/d/assignedDS",
        {"id": release.pk, "type": "soft", "maintenanceWindow": None, "confirmationRequired": False},
    ).json()
    action_id = body["assignedActions"][0]["id"]
    assert ddi_helpers.offered_action_id(client, "d") == action_id
    deployment = client.get(f"{ddi_helpers.BASE}/d/deploymentBase/{action_id}").json()
    assert deployment["deployment"]["download"] == "attempt"
    assert deployment["deployment"]["update"] == "attempt"


def test_timeforced_with_forcetime_in_millis(mgmt, release):
    make_device("d", sw_version="1.0")
    forcetime = 1893456000000  # 2030-01-01
    mgmt.post("targets/d/assignedDS", {"id": release.pk, "type": "timeforced", "forcetime": forcetime})
    action = _new_action("d")
    assert action.action_type == "timeforced"
    assert int(action.forcetime.timestamp() * 1000) == forcetime
    assert mgmt.get(f"targets/d/actions/{action.pk}").json()["forceTime"] == forcetime


def test_a_forcetime_without_timeforced_is_ignored_as_by_hawkbit(mgmt, release):
    make_device("d", sw_version="1.0")
    assert (
        mgmt.post("targets/d/assignedDS", {"id": release.pk, "forcetime": 1893456000000}).status_code == 200
    )
    assert _new_action("d").forcetime is None


def test_maintenance_window_is_stored(mgmt, release):
    make_device("d", sw_version="1.0")
    window = {"schedule": "0 30 2 ? * *", "duration": "01:00:00", "timezone": "+02:00"}
    mgmt.post("targets/d/assignedDS", {"id": release.pk, "maintenanceWindow": window})
    action = _new_action("d")
    assert action.maintenance_window == window


@pytest.mark.parametrize(
    ("window", "field"),
    [
        (
            {"schedule": "not cron", "duration": "01:00:00", "timezone": "+00:00"},
            "maintenanceWindow.schedule",
        ),
        ({"schedule": "0 30 2 ? * *", "duration": "1h", "timezone": "+00:00"}, "maintenanceWindow.duration"),
        (
            {"schedule": "0 30 2 ? * *", "duration": "01:00:00", "timezone": "Berlin"},
            "maintenanceWindow.timezone",
        ),
        ({"schedule": "0 30 2 ? * *"}, "maintenanceWindow"),
        (
            {"schedule": "0 0 0 1 1 ? 2000", "duration": "01:00:00", "timezone": "+00:00"},
            "maintenanceWindow.schedule",
        ),
        ({"schedule": 5, "duration": "01:00:00", "timezone": "+00:00"}, "maintenanceWindow.schedule"),
        ("daily", "maintenanceWindow"),
    ],
)
def test_bad_maintenance_windows_are_hawkbits_400(mgmt, release, window, field):
    make_device("d", sw_version="1.0")
    response = mgmt.post("targets/d/assignedDS", {"id": release.pk, "maintenanceWindow": window})
    assert response.status_code == 400
    body = response.json()
    assert body["errorCode"] == "hawkbit.server.error.maintenanceScheduleInvalid"
    assert field in body["message"]
    assert not Action.objects.exists()


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"type": "sometimes"}, "type"),
        ({"type": 3}, "type"),
        ({"type": "timeforced"}, "forcetime"),
        ({"type": "timeforced", "forcetime": "soon"}, "forcetime"),
        ({"type": "timeforced", "forcetime": -5}, "forcetime"),
        ({"type": "timeforced", "forcetime": 10**20}, "forcetime"),
        ({"weight": 1001}, "weight"),
        ({"weight": -1}, "weight"),
        ({"weight": "heavy"}, "weight"),
        ({"weight": True}, "weight"),
        ({"confirmationRequired": "yes"}, "confirmationRequired"),
    ],
)
def test_bad_assignment_options_are_400_naming_the_field(mgmt, release, extra, field):
    make_device("d", sw_version="1.0")
    response = mgmt.post("targets/d/assignedDS", {"id": release.pk, **extra})
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert not Action.objects.exists()


def test_unknown_or_bad_distribution_set_id(mgmt):
    make_device("d")
    assert mgmt.post("targets/d/assignedDS", {"id": 999}).status_code == 404
    assert mgmt.post("targets/d/assignedDS", {"id": "x"}).status_code == 404
    assert mgmt.post("targets/d/assignedDS", {"id": None}).status_code == 400
    assert mgmt.post("targets/d/assignedDS", {}).status_code == 400
    assert mgmt.post("targets/nobody/assignedDS", {"id": 1}).status_code == 404


def test_two_sets_at_once_is_refused_as_without_multi_assignment(mgmt, release):
    make_device("d")
    response = mgmt.post("targets/d/assignedDS", [{"id": release.pk}, {"id": make_software("3.0").pk}])
    assert response.status_code == 400
    assert response.json()["errorCode"] == "hawkbit.server.error.multiAssignmentNotEnabled"
    assert mgmt.post("targets/d/assignedDS", []).status_code == 400
    assert mgmt.post("targets/d/assignedDS", "x").status_code == 400


def test_incompatible_hardware_is_400(mgmt):
    other = make_software("2.0", compatibility=[make_hardware("other-board")])
    make_device("d", sw_version="1.0")
    response = mgmt.post("targets/d/assignedDS", {"id": other.pk})
    assert response.status_code == 400
    assert "not compatible" in response.json()["message"]


def test_assign_needs_update_target_and_read_distribution_set(mgmt_as, release):
    make_device("d", sw_version="1.0")
    assert (
        mgmt_as("view_device", "change_device").post("targets/d/assignedDS", {"id": release.pk}).status_code
        == 403
    )
    assert (
        mgmt_as("view_device", "view_software").post("targets/d/assignedDS", {"id": release.pk}).status_code
        == 403
    )
    assert not Action.objects.exists()
    assert mgmt_as(*ASSIGNER).post("targets/d/assignedDS", {"id": release.pk}).status_code == 200


# --- offline ----------------------------------------------------------------------------------


def test_offline_assignment_records_the_install_without_the_device(mgmt, client, release):
    make_device("d", sw_version="1.0")
    response = mgmt.post("targets/d/assignedDS?offline=true", {"id": release.pk})
    assert response.status_code == 200
    action = _new_action("d")
    assert response.json()["assigned"] == 1
    assert action.status == Action.Status.FINISHED
    device = Device.objects.get(controller_id="d")
    assert (device.installed_action_id, device.sw_version, device.state) == (action.pk, "2.0", "finished")
    assert mgmt.get("targets/d/installedDS").json()["id"] == release.pk
    assert mgmt.get("targets/d/assignedDS").json()["id"] == release.pk
    assert mgmt.get("targets/d").json()["updateStatus"] == "in_sync"
    [status] = mgmt.get(f"targets/d/actions/{action.pk}/status").json()["content"]
    assert status["type"] == "finished"
    # Nothing to do for the device; its installedBase is the offline install.
    links = ddi_helpers.poll(client, "d")
    assert "deploymentBase" not in links
    assert f"/installedBase/{action.pk}" in links["installedBase"]["href"]


def test_offline_assignment_of_a_busy_or_up_to_date_device_is_already_assigned(mgmt, release):
    make_device("busy", sw_version="1.0")
    mgmt.post("targets/busy/assignedDS", {"id": make_software("1.5").pk})
    body = mgmt.post("targets/busy/assignedDS?offline=true", {"id": release.pk}).json()
    assert (body["assigned"], body["alreadyAssigned"]) == (0, 1)
    make_device("done", sw_version="1.0")
    mgmt.post("targets/done/assignedDS?offline=true", {"id": release.pk})
    body = mgmt.post("targets/done/assignedDS?offline=true", {"id": release.pk}).json()
    assert (body["assigned"], body["alreadyAssigned"]) == (0, 1)
    assert mgmt.post("targets/done/assignedDS?offline=perhaps", {"id": release.pk}).status_code == 400


# --- GET assignedDS / installedDS -------------------------------------------------------------


def test_no_assigned_or_installed_set_is_204(mgmt):
    make_device("d")
    assert mgmt.get("targets/d/assignedDS").status_code == 204
    assert mgmt.get("targets/d/installedDS").status_code == 204
    assert mgmt.get("targets/nobody/assignedDS").status_code == 404


def test_assigned_ds_is_hawkbits_distribution_set_json(mgmt, release):
    make_device("d", sw_version="1.0")
    mgmt.post("targets/d/assignedDS", {"id": release.pk})
    body = mgmt.get("targets/d/assignedDS").json()
    [module] = release.modules.all()
    assert body["id"] == release.pk
    assert (body["name"], body["version"]) == (release.name, "2.0")
    assert body["locked"] is True and body["deleted"] is False and body["valid"] is True
    assert body["complete"] is True and body["requiredMigrationStep"] is False
    assert body == mgmt.get(f"distributionsets/{release.pk}").json()  # one representation
    assert body["_links"]["self"] == {"href": f"{BASE}/distributionsets/{release.pk}"}
    assert [(m["id"], m["type"], m["version"]) for m in body["modules"]] == [
        (module.pk, "os", module.version)
    ]
    assert body["modules"][0]["_links"] == {"self": {"href": f"{BASE}/softwaremodules/{module.pk}"}}
    # Not installed yet.
    assert mgmt.get("targets/d/installedDS").status_code == 204


def test_installed_ds_after_the_device_installed_over_ddi(mgmt, client, release):
    make_device("d", sw_version="1.0")
    mgmt.post("targets/d/assignedDS", {"id": release.pk})
    ddi_helpers.install(client, "d")
    assert mgmt.get("targets/d/installedDS").json()["id"] == release.pk
    body = mgmt.get("targets/d").json()
    assert body["updateStatus"] == "in_sync"
    assert isinstance(body["installedAt"], int)


def test_reading_the_sets_of_a_target_needs_only_read_target_as_in_hawkbit(mgmt_as):
    make_device("d")
    assert mgmt_as("view_device").get("targets/d/assignedDS").status_code == 204
    assert mgmt_as("view_device").get("targets/d/installedDS").status_code == 204
    assert mgmt_as("view_software").get("targets/d/assignedDS").status_code == 403


# --- /distributionsets/{id}/assignedTargets and installedTargets ------------------------------


def test_assign_many_targets_to_a_set(mgmt, client, release):
    for cid in ("a", "b", "c"):
        make_device(cid, sw_version="1.0")
    mgmt.post("targets/c/assignedDS", {"id": release.pk})
    response = mgmt.post(
        f"distributionsets/{release.pk}/assignedTargets",
        [{"id": "a", "type": "soft"}, {"id": "b", "type": "downloadonly", "weight": 5}, {"id": "c"}],
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["assigned"], body["alreadyAssigned"], body["total"]) == (2, 1, 3)
    assert [
        item["_links"]["self"]["href"].split("/targets/")[1].split("/")[0] for item in body["assignedActions"]
    ] == [
        "a",
        "b",
    ]
    assert _new_action("b").action_type == "downloadonly"
    assert ddi_helpers.offered_action_id(client, "a") == body["assignedActions"][0]["id"]

    listing = mgmt.get(f"distributionsets/{release.pk}/assignedTargets").json()
    assert [item["controllerId"] for item in listing["content"]] == ["a", "b", "c"]


def test_assigned_targets_post_validates_everything_first(mgmt, release):
    make_device("a", sw_version="1.0")
    response = mgmt.post(f"distributionsets/{release.pk}/assignedTargets", [{"id": "a"}, {"id": "nobody"}])
    assert response.status_code == 404
    assert not Action.objects.exists()
    response = mgmt.post(
        f"distributionsets/{release.pk}/assignedTargets", [{"id": "a"}, {"id": "a", "weight": 5000}]
    )
    assert response.status_code == 400
    assert "[1].weight" in response.json()["message"]
    assert not Action.objects.exists()
    assert mgmt.post(f"distributionsets/{release.pk}/assignedTargets", [{"type": "soft"}]).status_code == 400
    assert mgmt.post(f"distributionsets/{release.pk}/assignedTargets", {"id": "a"}).status_code == 400
    assert mgmt.post("distributionsets/999/assignedTargets", [{"id": "a"}]).status_code == 404


def test_an_incompatible_target_rolls_the_whole_request_back(mgmt, release):
    make_device("a", sw_version="1.0")
    make_device("b", sw_version="1.0", hardware=make_hardware("other-board"))
    response = mgmt.post(f"distributionsets/{release.pk}/assignedTargets", [{"id": "a"}, {"id": "b"}])
    assert response.status_code == 400
    assert not Action.objects.exists()
    assert Device.objects.get(controller_id="a").update_mode == Device.UpdateMode.ROLLOUT


def test_assigned_targets_offline(mgmt, release):
    make_device("a", sw_version="1.0")
    body = mgmt.post(f"distributionsets/{release.pk}/assignedTargets?offline=true", [{"id": "a"}]).json()
    assert body["assigned"] == 1
    assert Device.objects.get(controller_id="a").installed_action_id == body["assignedActions"][0]["id"]
    listing = mgmt.get(f"distributionsets/{release.pk}/installedTargets").json()
    assert [item["controllerId"] for item in listing["content"]] == ["a"]


def test_assigned_targets_follow_what_each_device_is_brought_to(mgmt, release):
    older = make_software("1.0")
    # Installed the release, nothing else planned: assigned (in sync) and installed.
    synced = make_device("synced", state=Device.State.FINISHED)
    Device.objects.filter(pk=synced.pk).update(
        installed_action=make_action(
            synced, release, status=Action.Status.FINISHED, finished_at=timezone.now()
        )
    )
    # Installed the release but is now being brought back to an older one: not assigned it.
    moving = make_device("moving", state=Device.State.PENDING)
    Device.objects.filter(pk=moving.pk).update(
        installed_action=make_action(
            moving, release, status=Action.Status.FINISHED, finished_at=timezone.now()
        )
    )
    make_action(moving, older)
    # Running the release's update right now (a rollout action).
    make_action(make_device("updating"), release, reason=Action.Reason.ROLLOUT, status=Action.Status.RUNNING)
    make_device("unrelated")

    assigned = mgmt.get(f"distributionsets/{release.pk}/assignedTargets").json()
    assert [item["controllerId"] for item in assigned["content"]] == ["synced", "updating"]
    installed = mgmt.get(f"distributionsets/{release.pk}/installedTargets").json()
    assert [item["controllerId"] for item in installed["content"]] == ["moving", "synced"]
    assert mgmt.get(f"distributionsets/{release.pk}/assignedTargets", sort="controllerId:DESC").json()[
        "content"
    ][0]["controllerId"] == ("updating")


def test_set_target_lists_need_permissions_and_a_known_set(mgmt, mgmt_as, release):
    assert mgmt.get("distributionsets/999/assignedTargets").status_code == 404
    assert mgmt.get("distributionsets/abc/installedTargets").status_code == 404
    client = mgmt_as("view_device")
    assert client.get(f"distributionsets/{release.pk}/assignedTargets").status_code == 403
    assert client.get(f"distributionsets/{release.pk}/installedTargets").status_code == 403
    assert (
        mgmt_as("view_device", "view_software")
        .post(f"distributionsets/{release.pk}/assignedTargets", [{"id": "a"}])
        .status_code
        == 403
    )


def test_assignment_while_an_update_runs_cancels_it_through_the_device(mgmt, client, release):
    make_device("d", sw_version="1.0")
    first = mgmt.post("targets/d/assignedDS", {"id": make_software("1.5").pk}).json()["assignedActions"][0][
        "id"
    ]
    assert client.get(f"{ddi_helpers.BASE}/d/deploymentBase/{first}").status_code == 200
    assert ddi_helpers.feedback(client, "d", first, "proceeding") == 200

    body = mgmt.post("targets/d/assignedDS", {"id": release.pk}).json()

    # The new action follows once the device confirmed the cancel: in neither count yet.
    assert (body["assigned"], body["alreadyAssigned"], body["total"]) == (0, 0, 0)
    assert Action.objects.get(pk=first).status == Action.Status.CANCELING
    assert ActionStatus.objects.filter(action_id=first, execution="canceling").exists()


def test_assigning_the_release_a_rollout_is_installing_counts_as_already_assigned(mgmt, release):
    device = make_device("d", sw_version="1.0")
    action = make_action(device, release, reason=Action.Reason.ROLLOUT, status=Action.Status.RUNNING)
    body = mgmt.post("targets/d/assignedDS", {"id": release.pk}).json()
    assert (body["assigned"], body["alreadyAssigned"]) == (0, 1)
    assert Action.objects.get(pk=action.pk).status == Action.Status.RUNNING
    assert Device.objects.get(pk=device.pk).update_mode == Device.UpdateMode.ASSIGNED
