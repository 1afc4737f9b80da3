"""Actions and their status history: /targets/{id}/actions[/{aid}[/status]] and /actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from devices.models import Device
from rollouts.models import Action, ActionStatus
from tests.factories import make_action, make_device, make_rollout, make_software
from tests.rollouts import ddi_helpers

pytestmark = pytest.mark.django_db

BASE = "http://testserver/rest/v1"


@pytest.fixture
def running():
    """Device ``d`` with a soft update it has started."""
    device = make_device("d", name="Dee", state=Device.State.RUNNING)
    software = make_software("2.0")
    action = make_action(device, software, status=Action.Status.RUNNING, action_type="soft", weight=600)
    return device, software, action


def test_action_json_has_hawkbits_fields(mgmt, running):
    device, software, action = running
    ActionStatus.objects.create(action=action, execution="proceeding", code=200)
    Action.objects.filter(pk=action.pk).update(last_code=200)

    body = mgmt.get(f"targets/d/actions/{action.pk}").json()

    assert body["id"] == action.pk
    assert body["type"] == "update"
    assert body["active"] is True
    assert body["status"] == "running"
    assert body["forceType"] == "soft"
    assert body["weight"] == 600
    assert body["lastStatusCode"] == 200
    assert isinstance(body["createdAt"], int) and isinstance(body["lastModifiedAt"], int)
    for absent in ("forceTime", "maintenanceWindow", "rollout", "rolloutName"):
        assert absent not in body
    assert body["_links"] == {
        "self": {"href": f"{BASE}/targets/d/actions/{action.pk}"},
        "target": {"href": f"{BASE}/targets/d", "name": "Dee"},
        "distributionset": {
            "href": f"{BASE}/distributionsets/{software.pk}",
            "name": f"{software.name}:2.0",
        },
        "status": {"href": f"{BASE}/targets/d/actions/{action.pk}/status?offset=0&limit=50&sort=id%3ADESC"},
    }


def test_a_rollout_action_names_its_rollout(mgmt):
    device = make_device("d")
    rollout = make_rollout(make_software("2.0"), name="spring")
    action = make_action(device, rollout.software, rollout=rollout, reason=Action.Reason.ROLLOUT)
    body = mgmt.get(f"targets/d/actions/{action.pk}").json()
    assert (body["rollout"], body["rolloutName"]) == (rollout.pk, "spring")
    assert body["_links"]["rollout"] == {"href": f"{BASE}/rollouts/{rollout.pk}", "name": "spring"}


def test_timeforced_and_maintenance_window(mgmt):
    device = make_device("d")
    forcetime = datetime(2030, 1, 1, tzinfo=UTC)
    action = make_action(
        device,
        make_software("2.0"),
        action_type="timeforced",
        forcetime=forcetime,
        maintenance_schedule="0 30 2 ? * *",
        maintenance_duration="01:00:00",
        maintenance_timezone="+00:00",
    )
    body = mgmt.get(f"targets/d/actions/{action.pk}").json()
    assert body["forceType"] == "timeforced"
    assert body["forceTime"] == int(forcetime.timestamp() * 1000)
    window = body["maintenanceWindow"]
    assert (window["schedule"], window["duration"], window["timezone"]) == (
        "0 30 2 ? * *",
        "01:00:00",
        "+00:00",
    )
    next_start = datetime.fromtimestamp(window["nextStartAt"] / 1000, tz=UTC)
    assert (next_start.hour, next_start.minute) == (2, 30)
    assert next_start > timezone.now()


@pytest.mark.parametrize(
    ("status", "word", "kind", "active"),
    [
        (Action.Status.PENDING, "running", "update", True),
        (Action.Status.WAIT_FOR_CONFIRMATION, "wait_for_confirmation", "update", True),
        (Action.Status.RUNNING, "running", "update", True),
        (Action.Status.CANCELING, "canceling", "cancel", True),
        (Action.Status.CANCELED, "canceled", "cancel", False),
        (Action.Status.FINISHED, "finished", "update", False),
        (Action.Status.ERROR, "error", "update", False),
    ],
)
def test_action_status_words(mgmt, status, word, kind, active):
    action = make_action(make_device("d"), make_software("2.0"), status=status)
    body = mgmt.get(f"targets/d/actions/{action.pk}").json()
    assert (body["status"], body["type"], body["active"]) == (word, kind, active)
    assert ("canceledaction" in body["_links"]) == (kind == "cancel")


def test_target_actions_list_pages_and_sorts(mgmt):
    device = make_device("d")
    software = make_software("2.0")
    ids = [make_action(device, software, status=Action.Status.FINISHED).pk for _ in range(3)]
    make_action(make_device("other"), software)

    body = mgmt.get("targets/d/actions").json()
    assert (body["total"], body["size"]) == (3, 3)
    assert [item["id"] for item in body["content"]] == ids
    assert set(body["content"][0]["_links"]) == {"self"}
    body = mgmt.get("targets/d/actions", sort="id:DESC", limit=2).json()
    assert [item["id"] for item in body["content"]] == ids[::-1][:2]


def test_action_of_another_target_is_404(mgmt, running):
    _, _, action = running
    make_device("other")
    assert mgmt.get(f"targets/other/actions/{action.pk}").status_code == 404
    assert mgmt.delete(f"targets/other/actions/{action.pk}").status_code == 404
    assert Action.objects.get(pk=action.pk).status == Action.Status.RUNNING


@pytest.mark.parametrize("raw", ["abc", "99999", "9" * 30, "-1", "１"])
def test_bad_or_unknown_action_ids_are_404(mgmt, raw):
    make_device("d")
    response = mgmt.get(f"targets/d/actions/{raw}")
    assert response.status_code == 404
    assert response.json()["errorCode"] == "hawkbit.server.error.repo.entityNotFound"
    assert mgmt.get(f"actions/{raw}").status_code == 404


def test_actions_need_read_target(mgmt_as, running):
    _, _, action = running
    client = mgmt_as("view_software")
    for path in (
        "targets/d/actions",
        f"targets/d/actions/{action.pk}",
        f"targets/d/actions/{action.pk}/status",
    ):
        assert client.get(path).status_code == 403
    assert client.get("actions").status_code == 403
    assert client.get(f"actions/{action.pk}").status_code == 403


# --- cancel, force-quit, force ----------------------------------------------------------------


def test_cancel_of_an_unstarted_action_closes_it(mgmt):
    device = make_device("d", state=Device.State.PENDING)
    action = make_action(device, make_software("2.0"), status=Action.Status.PENDING)
    assert mgmt.delete(f"targets/d/actions/{action.pk}").status_code == 204
    assert Action.objects.get(pk=action.pk).status == Action.Status.CANCELED


def test_cancel_of_a_closed_action_is_405_not_cancelable(mgmt):
    action = make_action(make_device("d"), make_software("2.0"), status=Action.Status.FINISHED)
    response = mgmt.delete(f"targets/d/actions/{action.pk}")
    assert response.status_code == 405
    assert response.json()["errorCode"] == "hawkbit.server.error.action.notCancelable"


def test_cancel_reaches_the_device_and_it_confirms(mgmt, client):
    software = make_software("2.0")
    device = make_device("d", sw_version="1.0")
    assert mgmt.post("targets/d/assignedDS", {"id": software.pk}).status_code == 200
    action_id = ddi_helpers.offered_action_id(client, "d")
    assert action_id is not None
    assert client.get(f"{ddi_helpers.BASE}/d/deploymentBase/{action_id}").status_code == 200
    assert ddi_helpers.feedback(client, "d", action_id, "proceeding") == 200

    assert mgmt.delete(f"targets/d/actions/{action_id}").status_code == 204

    body = mgmt.get(f"targets/d/actions/{action_id}").json()
    assert (body["status"], body["type"]) == ("canceling", "cancel")
    links = ddi_helpers.poll(client, "d")
    assert f"/cancelAction/{action_id}" in links["cancelAction"]["href"]
    response = client.post(
        f"{ddi_helpers.BASE}/d/cancelAction/{action_id}/feedback",
        {"id": action_id, "status": {"execution": "closed", "result": {"finished": "success"}}},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert mgmt.get(f"targets/d/actions/{action_id}").json()["status"] == "canceled"
    statuses = mgmt.get(f"targets/d/actions/{action_id}/status").json()["content"]
    assert statuses[0]["type"] == "canceled"
    assert "canceling" in [entry["type"] for entry in statuses]
    device.refresh_from_db()
    assert device.state != Device.State.CANCELING


def test_force_quit_closes_a_cancel_the_device_never_confirms(mgmt):
    device = make_device("d", state=Device.State.CANCELING)
    action = make_action(device, make_software("2.0"), status=Action.Status.CANCELING)
    assert mgmt.delete(f"targets/d/actions/{action.pk}", force="true").status_code == 204
    assert Action.objects.get(pk=action.pk).status == Action.Status.CANCELED


def test_force_quit_of_an_action_not_being_canceled_is_405(mgmt, running):
    _, _, action = running
    response = mgmt.delete(f"targets/d/actions/{action.pk}", force="true")
    assert response.status_code == 405
    assert response.json()["errorCode"] == "hawkbit.server.error.action.notForceQuitable"
    assert mgmt.delete(f"targets/d/actions/{action.pk}", force="maybe").status_code == 400


def test_cancel_needs_update_target(mgmt_as, running):
    _, _, action = running
    assert mgmt_as("view_device").delete(f"targets/d/actions/{action.pk}").status_code == 403
    assert Action.objects.get(pk=action.pk).status == Action.Status.RUNNING


def test_put_force_type_forced_switches_a_soft_update(mgmt, running):
    _, _, action = running
    response = mgmt.put(f"targets/d/actions/{action.pk}", {"forceType": "forced"})
    assert response.status_code == 200
    assert response.json()["forceType"] == "forced"
    assert "target" in response.json()["_links"]
    assert Action.objects.get(pk=action.pk).action_type == "forced"


@pytest.mark.parametrize("body", [{"forceType": "soft"}, {}, {"forceType": 1}, {"forceType": None}])
def test_put_supports_only_forced(mgmt, running, body):
    _, _, action = running
    response = mgmt.put(f"targets/d/actions/{action.pk}", body)
    assert response.status_code == 400
    assert "forceType" in response.json()["message"]
    assert Action.objects.get(pk=action.pk).action_type == "soft"


def test_put_forced_on_a_closed_action_is_refused(mgmt):
    action = make_action(
        make_device("d"), make_software("2.0"), status=Action.Status.FINISHED, action_type="soft"
    )
    response = mgmt.put(f"targets/d/actions/{action.pk}", {"forceType": "forced"})
    assert response.status_code == 405
    assert "open update" in response.json()["message"]


def test_put_needs_update_target(mgmt_as, running):
    _, _, action = running
    assert (
        mgmt_as("view_device").put(f"targets/d/actions/{action.pk}", {"forceType": "forced"}).status_code
        == 403
    )


# --- status history ---------------------------------------------------------------------------


def test_status_history_newest_first_with_hawkbit_types(mgmt, running):
    _, _, action = running
    rows = [
        ActionStatus.objects.create(action=action, source="server", execution="retrieved"),
        ActionStatus.objects.create(action=action, execution="download", details=["Downloading"]),
        ActionStatus.objects.create(action=action, execution="downloaded"),
        ActionStatus.objects.create(action=action, execution="proceeding", code=12, details=["50%"]),
        ActionStatus.objects.create(action=action, execution="closed", finished="failure", details=["bad"]),
    ]

    body = mgmt.get(f"targets/d/actions/{action.pk}/status").json()

    assert body["total"] == 5
    assert [entry["id"] for entry in body["content"]] == [row.pk for row in reversed(rows)]
    assert [entry["type"] for entry in body["content"]] == [
        "error",
        "running",
        "downloaded",
        "download",
        "retrieved",
    ]
    running_entry = body["content"][1]
    assert running_entry["messages"] == ["50%"]
    assert running_entry["code"] == 12
    assert running_entry["reportedAt"] == int(rows[3].created.timestamp() * 1000)
    assert running_entry["timestamp"] == running_entry["reportedAt"]
    assert "code" not in body["content"][0]
    ascending = mgmt.get(f"targets/d/actions/{action.pk}/status", sort="id:ASC", limit=1).json()
    assert [entry["id"] for entry in ascending["content"]] == [rows[0].pk]


@pytest.mark.parametrize(
    ("fields", "word"),
    [
        ({"execution": "closed", "finished": "success"}, "finished"),
        ({"execution": "closed", "finished": "none"}, "finished"),
        ({"execution": "scheduled"}, "scheduled"),
        ({"execution": "rejected"}, "warning"),
        ({"execution": "resumed"}, "running"),
        ({"execution": "canceled"}, "canceled"),
        ({"execution": "waiting", "channel": "confirmation"}, "wait_for_confirmation"),
        ({"execution": "confirmed", "channel": "confirmation"}, "running"),
        ({"execution": "denied", "channel": "confirmation"}, "wait_for_confirmation"),
        ({"execution": "canceling", "source": "server"}, "canceling"),
        ({"execution": "canceling", "source": "server", "channel": "cancel"}, "canceled"),
        ({"execution": "rejected", "channel": "cancel"}, "cancel_rejected"),
        ({"execution": "closed", "finished": "success", "channel": "cancel"}, "canceled"),
    ],
)
def test_status_type_words(mgmt, running, fields, word):
    _, _, action = running
    ActionStatus.objects.create(action=action, **fields)
    assert mgmt.get(f"targets/d/actions/{action.pk}/status").json()["content"][0]["type"] == word


def test_status_history_of_a_device_that_installs_over_ddi(mgmt, client):
    software = make_software("2.0")
    make_device("d", sw_version="1.0")
    mgmt.post("targets/d/assignedDS", {"id": software.pk})
    action_id = ddi_helpers.install(client, "d")
    body = mgmt.get(f"targets/d/actions/{action_id}").json()
    assert (body["status"], body["active"]) == ("finished", False)
    types = [entry["type"] for entry in mgmt.get(f"targets/d/actions/{action_id}/status").json()["content"]]
    assert types[0] == "finished"
    assert "running" in types


# --- /actions ---------------------------------------------------------------------------------


def test_all_actions_compact_and_full(mgmt):
    software = make_software("2.0")
    first = make_action(make_device("a"), software, status=Action.Status.FINISHED)
    second = make_action(make_device("b"), software)

    body = mgmt.get("actions").json()
    assert body["total"] == 2
    assert [item["id"] for item in body["content"]] == [first.pk, second.pk]
    assert body["content"][0]["_links"] == {"self": {"href": f"{BASE}/targets/a/actions/{first.pk}"}}

    full = mgmt.get("actions", representation="full").json()
    assert set(full["content"][1]["_links"]) == {"self", "target", "distributionset", "status"}
    # hawkBit answers an unknown representation with the compact one.
    assert mgmt.get("actions", representation="odd").status_code == 200
    body = mgmt.get("actions", sort="status:ASC").json()
    assert [item["status"] for item in body["content"]] == ["finished", "running"]


def test_one_action(mgmt, running):
    _, _, action = running
    body = mgmt.get(f"actions/{action.pk}").json()
    assert body["id"] == action.pk
    assert body["_links"]["target"]["href"] == f"{BASE}/targets/d"


def test_actions_sort_by_weight_and_creation(mgmt):
    software = make_software("2.0")
    light = make_action(make_device("a"), software, weight=10, status=Action.Status.FINISHED)
    heavy = make_action(make_device("b"), software, weight=900, status=Action.Status.FINISHED)
    Action.objects.filter(pk=light.pk).update(created=timezone.now() + timedelta(seconds=5))
    assert [item["id"] for item in mgmt.get("actions", sort="weight:DESC").json()["content"]] == [
        heavy.pk,
        light.pk,
    ]
    assert [item["id"] for item in mgmt.get("actions", sort="createdAt:ASC").json()["content"]] == [
        heavy.pk,
        light.pk,
    ]


# --- confirmation in the device's name --------------------------------------------------------


@pytest.fixture
def waiting(settings, mgmt):
    settings.GOOSEBIT_CONFIRMATION_FLOW = True
    device = make_device("d", sw_version="1.0")
    software = make_software("2.0")
    body = mgmt.post("targets/d/assignedDS", {"id": software.pk, "confirmationRequired": True}).json()
    action = Action.objects.get(pk=body["assignedActions"][0]["id"])
    assert action.status == Action.Status.WAIT_FOR_CONFIRMATION
    return device, action


def test_confirming_lets_the_update_proceed(mgmt, client, waiting):
    _, action = waiting
    response = mgmt.put(
        f"targets/d/actions/{action.pk}/confirmation", {"confirmation": "confirmed", "code": 7}
    )
    assert response.status_code == 204
    assert Action.objects.get(pk=action.pk).status == Action.Status.PENDING
    assert ddi_helpers.offered_action_id(client, "d") == action.pk
    assert ActionStatus.objects.filter(action=action, execution="confirmed", code=7).exists()
    notes = ActionStatus.objects.filter(action=action, source=ActionStatus.Source.SERVER)
    assert any("operator hawkbit confirmed the update" in " ".join(note.details) for note in notes)


def test_denying_keeps_it_waiting(mgmt, waiting):
    _, action = waiting
    body = {"confirmation": "denied", "details": ["not now"]}
    assert mgmt.put(f"targets/d/actions/{action.pk}/confirmation", body).status_code == 204
    assert Action.objects.get(pk=action.pk).status == Action.Status.WAIT_FOR_CONFIRMATION
    notes = ActionStatus.objects.filter(action=action, source=ActionStatus.Source.SERVER)
    assert any("operator hawkbit denied the update" in " ".join(note.details) for note in notes)


def test_confirmation_of_a_closed_action_is_410_and_of_one_not_waiting_404(mgmt, running):
    _, _, action = running
    body = {"confirmation": "confirmed"}
    assert mgmt.put(f"targets/d/actions/{action.pk}/confirmation", body).status_code == 404
    Action.objects.filter(pk=action.pk).update(status=Action.Status.FINISHED)
    assert mgmt.put(f"targets/d/actions/{action.pk}/confirmation", body).status_code == 410


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "confirmation"),
        ({"confirmation": "yes"}, "confirmation"),
        ({"confirmation": "confirmed", "code": "x"}, "code"),
        ({"confirmation": "confirmed", "code": 2**40}, "code"),
        ({"confirmation": "confirmed", "details": "x"}, "details"),
        ({"confirmation": "confirmed", "details": [1]}, "details"),
        ({"confirmation": "confirmed", "details": ["x" * 2000]}, "details"),
    ],
)
def test_bad_confirmations_are_400(mgmt, waiting, body, field):
    _, action = waiting
    response = mgmt.put(f"targets/d/actions/{action.pk}/confirmation", body)
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert Action.objects.get(pk=action.pk).status == Action.Status.WAIT_FOR_CONFIRMATION


def test_confirmation_needs_update_target(mgmt_as, waiting):
    _, action = waiting
    client = mgmt_as("view_device")
    assert (
        client.put(f"targets/d/actions/{action.pk}/confirmation", {"confirmation": "confirmed"}).status_code
        == 403
    )
