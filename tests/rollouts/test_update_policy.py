"""The update decision and the action state machine, driven through the DDI protocol."""

from __future__ import annotations

import json

import pytest

from devices.models import Device
from rollouts import services
from rollouts.models import Action, Rollout
from tests.factories import make_device, make_rollout, make_software

pytestmark = pytest.mark.django_db

BASE = "/DEFAULT/controller/v1"


def poll(client, cid):
    response = client.get(f"{BASE}/{cid}", HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def feedback(client, cid, action_id, execution, finished="none", details=None, channel="deploymentBase"):
    body = {"id": action_id, "status": {"execution": execution, "result": {"finished": finished}}}
    if details is not None:
        body["status"]["details"] = details
    return client.post(
        f"{BASE}/{cid}/{channel}/{action_id}/feedback", json.dumps(body), content_type="application/json"
    )


def test_a_full_update_cycle_keeps_the_action_on_offer_until_closed(client):
    device = make_device("dev-1", sw_version="1.0.0")
    software = make_software("2.0.0")
    services.device_assign_software(device=device, software=software)

    links = poll(client, "dev-1")["_links"]
    action = Action.objects.get(device=device)
    assert links["deploymentBase"]["href"].startswith(
        f"http://testserver{BASE}/dev-1/deploymentBase/{action.pk}?c="
    )
    deployment = client.get(links["deploymentBase"]["href"]).json()
    assert deployment["id"] == str(action.pk)
    assert deployment["deployment"]["chunks"][0]["version"] == "2.0.0"

    assert feedback(client, "dev-1", action.pk, "proceeding", details=["Downloaded 42%"]).status_code == 200
    device.refresh_from_db()
    assert (device.state, device.progress) == (Device.State.RUNNING, 42)
    # SWUpdate confirms only after its reboot: the deployment must still be offered.
    assert "deploymentBase" in poll(client, "dev-1")["_links"]

    assert feedback(client, "dev-1", action.pk, "closed", "success").status_code == 200
    device.refresh_from_db()
    action.refresh_from_db()
    assert action.status == Action.Status.FINISHED
    assert (device.state, device.sw_version, device.installed_action_id) == ("finished", "2.0.0", action.pk)
    links = poll(client, "dev-1")["_links"]
    assert "deploymentBase" not in links
    assert links["installedBase"]["href"] == f"http://testserver{BASE}/dev-1/installedBase/{action.pk}"
    assert "configData" in links
    assert feedback(client, "dev-1", action.pk, "closed", "success").status_code == 410


def test_a_failed_device_waits_for_an_operator_retry(client):
    device = make_device("dev-1", sw_version="1.0.0")
    services.device_assign_software(device=device, software=make_software("2.0.0"))
    poll(client, "dev-1")
    action = Action.objects.get()
    assert feedback(client, "dev-1", action.pk, "closed", "failure").status_code == 200
    device.refresh_from_db()
    assert device.state == Device.State.ERROR
    assert "deploymentBase" not in poll(client, "dev-1").get("_links", {})

    services.device_retry(device=device)
    links = poll(client, "dev-1")["_links"]
    assert "deploymentBase" in links
    assert Action.objects.filter(device=device).count() == 2


def test_a_paused_newer_rollout_holds_the_feed(client):
    device = make_device("dev-1", sw_version="1.0.0")
    make_rollout(make_software("1.5.0"), status=Rollout.Status.RUNNING)
    make_rollout(make_software("2.0.0"), status=Rollout.Status.PAUSED)
    assert "deploymentBase" not in poll(client, "dev-1").get("_links", {})
    assert not device.actions.exists()


def test_a_running_action_for_old_software_is_canceled_through_the_device(client):
    device = make_device("dev-1", sw_version="1.0.0")
    services.device_assign_software(device=device, software=make_software("2.0.0"))
    poll(client, "dev-1")
    old = Action.objects.get()
    feedback(client, "dev-1", old.pk, "proceeding")
    services.device_assign_software(device=device, software=make_software("3.0.0"))

    links = poll(client, "dev-1")["_links"]
    assert links["cancelAction"]["href"] == f"http://testserver{BASE}/dev-1/cancelAction/{old.pk}"
    cancel = client.get(links["cancelAction"]["href"]).json()
    assert cancel == {"id": str(old.pk), "cancelAction": {"stopId": str(old.pk)}}
    assert feedback(client, "dev-1", old.pk, "closed", "success", channel="cancelAction").status_code == 200
    old.refresh_from_db()
    assert old.status == Action.Status.CANCELED

    links = poll(client, "dev-1")["_links"]
    new = Action.objects.get(status=Action.Status.PENDING)
    assert new.software.version == "3.0.0"
    assert f"/deploymentBase/{new.pk}?" in links["deploymentBase"]["href"]


def test_rollout_pauses_itself_at_the_failure_threshold(client):
    software = make_software("2.0.0")
    rollout = make_rollout(software, pause_on_failure_percent=50, pause_min_results=2)
    for cid in ("a", "b", "c"):
        make_device(cid, sw_version="1.0.0")
        poll(client, cid)
    actions = {a.device.controller_id: a for a in Action.objects.select_related("device")}
    feedback(client, "a", actions["a"].pk, "closed", "failure")
    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.RUNNING  # one result is below the minimum of two
    feedback(client, "b", actions["b"].pk, "closed", "failure")
    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.PAUSED
    assert rollout.pause_reason == (
        "Paused automatically: 2 of 2 finished devices failed (100%), reaching the limit of 50%"
    )
    make_device("d", sw_version="1.0.0")
    assert "deploymentBase" not in poll(client, "d").get("_links", {})


def test_operator_cancel_of_a_pending_action_is_immediate_and_sticks(client):
    device = make_device("dev-1", sw_version="1.0.0")
    services.device_assign_software(device=device, software=make_software("2.0.0"))
    poll(client, "dev-1")
    action = Action.objects.get()
    services.action_cancel(action=action)
    action.refresh_from_db()
    assert action.status == Action.Status.CANCELED
    assert "deploymentBase" not in poll(client, "dev-1").get("_links", {})


def test_the_chunk_part_is_configurable_for_zephyr(client, settings):
    settings.GOOSEBIT_DDI_CHUNK_PART = "bApp"
    device = make_device("dev-1", sw_version="1.0.0")
    services.device_assign_software(device=device, software=make_software("2.0.0"))
    href = poll(client, "dev-1")["_links"]["deploymentBase"]["href"]
    assert client.get(href).json()["deployment"]["chunks"][0]["part"] == "bApp"


def test_behind_a_proxy_the_device_address_comes_from_x_forwarded_for(client, settings):
    settings.GOOSEBIT_BEHIND_PROXY = True
    device = make_device("dev-1")
    client.get(f"{BASE}/dev-1", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7", REMOTE_ADDR="10.0.0.2")
    device.refresh_from_db()
    assert device.last_ip == "198.51.100.7"


def test_without_a_proxy_x_forwarded_for_is_ignored(client):
    device = make_device("dev-1")
    client.get(f"{BASE}/dev-1", HTTP_X_FORWARDED_FOR="203.0.113.9", REMOTE_ADDR="10.0.0.2")
    device.refresh_from_db()
    assert device.last_ip == "10.0.0.2"
