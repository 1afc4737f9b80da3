"""/rest/v1/targets: the registry as hawkBit's MgmtTarget, attributes, metadata and auto-confirm."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from devices import selectors as device_selectors
from devices.models import Device, DeviceMetadata
from goosebit_project.lib.tokens import token_matches
from rollouts.models import Action
from tests.ddi.helpers import ddi_url
from tests.factories import make_action, make_device, make_software

pytestmark = pytest.mark.django_db

BASE = "http://testserver/rest/v1"
TARGET_READER = ("view_device",)


def _create(mgmt, *entries):
    return mgmt.post("targets", list(entries))


# --- create -----------------------------------------------------------------------------------


def test_create_answers_201_with_hawkbit_target_json(mgmt):
    response = _create(
        mgmt,
        {
            "controllerId": "137",
            "name": "137",
            "description": "My name is 137",
            "securityToken": "949f1c34871",
        },
    )

    assert response.status_code == 201
    [body] = response.json()
    assert body["controllerId"] == "137"
    assert body["name"] == "137"
    assert body["description"] == "My name is 137"
    assert body["updateStatus"] == "unknown"
    assert body["securityToken"] == "949f1c34871"
    assert body["requestAttributes"] is True
    assert isinstance(body["createdAt"], int) and isinstance(body["lastModifiedAt"], int)
    assert body["_links"] == {"self": {"href": f"{BASE}/targets/137"}}
    # Never polled: no poll status, request time, address nor install.
    for absent in ("pollStatus", "lastControllerRequestAt", "ipAddress", "address", "installedAt"):
        assert absent not in body
    device = Device.objects.get(controller_id="137")
    assert device.description == "My name is 137"
    assert token_matches("949f1c34871", device.token_hash)


def test_a_target_created_without_a_token_gets_one_generated(mgmt):
    [body] = _create(mgmt, {"controllerId": "dev-1"}).json()
    device = Device.objects.get(controller_id="dev-1")
    assert device.has_token
    assert body["securityToken"] == device_selectors.device_token(device=device)
    assert body["name"] == "dev-1"  # hawkBit names a target after its controller id by default


def test_create_several_at_once(mgmt):
    response = _create(mgmt, {"controllerId": "a", "name": "A"}, {"controllerId": "b", "name": "B"})
    assert response.status_code == 201
    assert [item["controllerId"] for item in response.json()] == ["a", "b"]


def test_create_an_existing_target_is_409_and_creates_nothing(mgmt):
    make_device("taken")
    response = _create(mgmt, {"controllerId": "new"}, {"controllerId": "taken"})
    assert response.status_code == 409
    assert response.json()["errorCode"] == "hawkbit.server.error.repo.entityAlreadyExists"
    assert not Device.objects.filter(controller_id="new").exists()


def test_the_same_controller_id_twice_in_one_request_is_409(mgmt):
    response = _create(mgmt, {"controllerId": "x"}, {"controllerId": "x"})
    assert response.status_code == 409
    assert not Device.objects.exists()


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({}, "controllerId"),
        ({"controllerId": ""}, "controllerId"),
        ({"controllerId": "a/b"}, "controllerId"),
        ({"controllerId": 5}, "controllerId"),
        ({"controllerId": "x" * 257}, "controllerId"),
        ({"controllerId": "ok", "name": "n" * 256}, "name"),
        ({"controllerId": "ok", "name": 3}, "name"),
        ({"controllerId": "ok", "description": "d" * 513}, "description"),
        ({"controllerId": "ok", "securityToken": "has space"}, "securityToken"),
        ({"controllerId": "ok", "securityToken": 12}, "securityToken"),
        ({"controllerId": "ok", "address": ["x"]}, "address"),
    ],
)
def test_create_refuses_bad_entries_naming_the_field(mgmt, entry, field):
    response = _create(mgmt, entry)
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert not Device.objects.exists()


@pytest.mark.parametrize("body", [{"controllerId": "a"}, "text", 5, [1]])
def test_create_needs_a_list_of_objects(mgmt, body):
    response = mgmt.post("targets", body)
    assert response.status_code == 400
    assert response.json()["errorCode"] == "hawkbit.server.error.rest.body.notReadable"


def test_create_needs_create_target(mgmt_as):
    response = _create(mgmt_as("view_device"), {"controllerId": "a"})
    assert response.status_code == 403
    assert response.json()["errorCode"] == "hawkbit.server.error.insufficientPermission"
    assert not Device.objects.exists()


def test_create_without_the_token_permission_hides_the_token(mgmt_as):
    response = _create(
        mgmt_as("view_device", "add_device"), {"controllerId": "a", "securityToken": "secret1"}
    )
    assert response.status_code == 201
    assert "securityToken" not in response.json()[0]


# --- read -------------------------------------------------------------------------------------


def test_single_target_has_hawkbits_links(mgmt):
    make_device("137")
    body = mgmt.get("targets/137").json()
    assert body["_links"] == {
        "self": {"href": f"{BASE}/targets/137"},
        "assignedDS": {"href": f"{BASE}/targets/137/assignedDS"},
        "installedDS": {"href": f"{BASE}/targets/137/installedDS"},
        "attributes": {"href": f"{BASE}/targets/137/attributes"},
        "actions": {"href": f"{BASE}/targets/137/actions?offset=0&limit=50&sort=id%3ADESC"},
        "metadata": {"href": f"{BASE}/targets/137/metadata?offset=0&limit=50"},
    }
    assert "autoConfirmActive" not in body  # only with the confirmation flow on


def test_with_the_confirmation_flow_on_auto_confirm_is_shown(mgmt, settings):
    settings.GOOSEBIT_CONFIRMATION_FLOW = True
    make_device("137", auto_confirm=True)
    body = mgmt.get("targets/137").json()
    assert body["autoConfirmActive"] is True
    assert body["_links"]["autoConfirm"] == {"href": f"{BASE}/targets/137/autoConfirm"}


def test_a_polled_target_shows_poll_status_address_and_install(mgmt):
    seen = timezone.now() - timedelta(seconds=5)
    device = make_device("137", last_seen=seen, last_ip="192.168.0.1", state=Device.State.FINISHED)
    installed = make_action(device, make_software("1.0"), status=Action.Status.FINISHED, finished_at=seen)
    Device.objects.filter(pk=device.pk).update(installed_action=installed)

    body = mgmt.get("targets/137").json()

    assert body["updateStatus"] == "in_sync"
    assert body["ipAddress"] == "192.168.0.1"
    assert body["address"] == "http://192.168.0.1"
    assert body["lastControllerRequestAt"] == int(seen.timestamp() * 1000)
    assert body["installedAt"] == int(seen.timestamp() * 1000)
    poll = body["pollStatus"]
    assert poll["lastRequestAt"] == int(seen.timestamp() * 1000)
    assert poll["nextExpectedRequestAt"] > poll["lastRequestAt"]
    assert poll["overdue"] is False


def test_an_overdue_target_says_so(mgmt):
    make_device("old", last_seen=timezone.now() - timedelta(days=2))
    assert mgmt.get("targets/old").json()["pollStatus"]["overdue"] is True


@pytest.mark.parametrize(
    ("state", "word"),
    [
        (Device.State.UNKNOWN, "unknown"),
        (Device.State.REGISTERED, "registered"),
        (Device.State.PENDING, "pending"),
        (Device.State.WAIT_FOR_CONFIRMATION, "pending"),
        (Device.State.RUNNING, "pending"),
        (Device.State.CANCELING, "pending"),
        (Device.State.FINISHED, "in_sync"),
        (Device.State.ERROR, "error"),
        (Device.State.ROLLED_BACK, "error"),
    ],
)
def test_update_status_words(mgmt, state, word):
    make_device("d", state=state)
    assert mgmt.get("targets/d").json()["updateStatus"] == word


def test_token_is_shown_only_with_read_target_security_token(mgmt_as):
    make_device("d", token="tok-123")
    assert "securityToken" not in mgmt_as("view_device").get("targets/d").json()
    reader = mgmt_as("view_device", "view_device_token")
    response = reader.get("targets/d")
    assert response.json()["securityToken"] == "tok-123"
    assert "no-store" in response["Cache-Control"]
    assert reader.get("targets").json()["content"][0]["securityToken"] == "tok-123"
    assert "securityToken" not in mgmt_as("view_device").get("targets").json()["content"][0]


def test_unknown_target_is_hawkbits_404(mgmt):
    response = mgmt.get("targets/nobody")
    assert response.status_code == 404
    assert response.json()["errorCode"] == "hawkbit.server.error.repo.entityNotFound"


def test_reading_needs_read_target(mgmt_as):
    make_device("d")
    client = mgmt_as("view_software")
    assert client.get("targets").status_code == 403
    assert client.get("targets/d").status_code == 403
    assert client.get("targets/d/attributes").status_code == 403
    assert client.get("targets/d/metadata").status_code == 403


def test_list_pages_and_sorts(mgmt):
    for cid in ("b", "a", "c"):
        make_device(cid, name=f"name-{cid}")
    body = mgmt.get("targets", limit=2).json()
    assert (body["total"], body["size"]) == (3, 2)
    assert [item["controllerId"] for item in body["content"]] == ["a", "b"]
    body = mgmt.get("targets", sort="name:DESC", offset=1).json()
    assert [item["controllerId"] for item in body["content"]] == ["b", "a"]
    assert all(set(item["_links"]) == {"self"} for item in body["content"])


def test_list_sorts_by_update_status(mgmt):
    make_device("x", state=Device.State.FINISHED)
    make_device("y", state=Device.State.ERROR)
    body = mgmt.get("targets", sort="updateStatus:ASC").json()
    assert [item["updateStatus"] for item in body["content"]] == ["error", "in_sync"]


def test_unknown_sort_field_is_400(mgmt):
    response = mgmt.get("targets", sort="nope:ASC")
    assert response.status_code == 400
    assert response.json()["errorCode"] == "hawkbit.server.error.rest.param.invalidField"


# --- update and delete ------------------------------------------------------------------------


def test_put_updates_name_description_token_and_request_attributes(mgmt):
    make_device("d", name="old", request_attributes=False)
    response = mgmt.put(
        "targets/d",
        {"name": "new", "description": "desc", "securityToken": "tok-new", "requestAttributes": True},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["description"], body["securityToken"]) == ("new", "desc", "tok-new")
    assert body["requestAttributes"] is True
    assert "assignedDS" in body["_links"]
    device = Device.objects.get(controller_id="d")
    assert device.request_attributes is True
    assert token_matches("tok-new", device.token_hash)


def test_put_leaves_out_fields_it_is_not_given(mgmt):
    make_device("d", name="kept", description="kept too")
    body = mgmt.put("targets/d", {}).json()
    assert (body["name"], body["description"]) == ("kept", "kept too")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"requestAttributes": False}, "requestAttributes"),
        ({"requestAttributes": "yes"}, "requestAttributes"),
        ({"name": "n" * 300}, "name"),
        ({"description": ["x"]}, "description"),
        ({"securityToken": ""}, "securityToken"),
    ],
)
def test_put_refuses_bad_values_naming_the_field(mgmt, body, field):
    make_device("d", name="kept")
    response = mgmt.put("targets/d", body)
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert Device.objects.get(controller_id="d").name == "kept"


def test_put_needs_update_target(mgmt_as):
    make_device("d", name="kept")
    assert mgmt_as("view_device").put("targets/d", {"name": "x"}).status_code == 403
    assert Device.objects.get(controller_id="d").name == "kept"


def test_put_unknown_is_404(mgmt):
    assert mgmt.put("targets/nobody", {"name": "x"}).status_code == 404


def test_delete_is_204_and_forgets_the_device(mgmt, mgmt_as):
    make_device("d")
    assert mgmt_as("view_device", "change_device").delete("targets/d").status_code == 403
    assert mgmt.delete("targets/d").status_code == 204
    assert not Device.objects.filter(controller_id="d").exists()
    assert mgmt.delete("targets/d").status_code == 404


def test_a_created_target_polls_with_its_token(mgmt, client, settings):
    [body] = _create(mgmt, {"controllerId": "fresh", "securityToken": "tok-fresh"}).json()
    response = client.get(ddi_url("fresh"), HTTP_AUTHORIZATION="TargetToken tok-fresh")
    assert response.status_code == 200
    assert mgmt.get("targets/fresh").json()["updateStatus"] == "registered"


# --- attributes -------------------------------------------------------------------------------


def test_attributes_are_what_the_device_sent(mgmt):
    make_device("d", attributes={"hw_boardname": "board", "revision": "1.2"})
    response = mgmt.get("targets/d/attributes")
    assert response.status_code == 200
    assert response.json() == {"hw_boardname": "board", "revision": "1.2"}


def test_no_attributes_is_204(mgmt):
    make_device("d", attributes={})
    assert mgmt.get("targets/d/attributes").status_code == 204
    assert mgmt.get("targets/nobody/attributes").status_code == 404


# --- metadata ---------------------------------------------------------------------------------


def test_metadata_lifecycle(mgmt):
    make_device("d")
    response = mgmt.post("targets/d/metadata", [{"key": "site", "value": "Berlin"}, {"key": "rack"}])
    assert response.status_code == 201
    assert response.json() == [{"key": "site", "value": "Berlin"}, {"key": "rack", "value": ""}]

    listing = mgmt.get("targets/d/metadata").json()
    assert listing == {
        "content": [{"key": "rack", "value": ""}, {"key": "site", "value": "Berlin"}],
        "total": 2,
        "size": 2,
    }
    assert mgmt.get("targets/d/metadata/site").json() == {"key": "site", "value": "Berlin"}

    assert mgmt.put("targets/d/metadata/site", {"value": "Paris"}).json() == {"key": "site", "value": "Paris"}
    assert DeviceMetadata.objects.get(key="site").value == "Paris"
    # PUT of a key the target does not have creates it, as hawkBit's.
    assert mgmt.put("targets/d/metadata/new", {"value": "v"}).status_code == 200

    assert mgmt.delete("targets/d/metadata/site").status_code == 204
    assert mgmt.get("targets/d/metadata/site").status_code == 404
    assert mgmt.delete("targets/d/metadata/site").status_code == 404


def test_metadata_key_twice_is_409(mgmt):
    make_device("d")
    mgmt.post("targets/d/metadata", [{"key": "k", "value": "1"}])
    response = mgmt.post("targets/d/metadata", [{"key": "other"}, {"key": "k", "value": "2"}])
    assert response.status_code == 409
    assert list(DeviceMetadata.objects.values_list("key", "value")) == [("k", "1")]
    assert mgmt.post("targets/d/metadata", [{"key": "z"}, {"key": "z"}]).status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([{"value": "v"}], "key"),
        ([{"key": "k" * 129}], "key"),
        ([{"key": 1}], "key"),
        ([{"key": "k", "value": "v" * 4001}], "value"),
        ([{"key": "k", "value": 3}], "value"),
    ],
)
def test_metadata_refuses_bad_entries(mgmt, body, field):
    make_device("d")
    response = mgmt.post("targets/d/metadata", body)
    assert response.status_code == 400
    assert field in response.json()["message"]


def test_metadata_quota(mgmt):
    device = make_device("d")
    DeviceMetadata.objects.bulk_create(DeviceMetadata(device=device, key=f"k{i}") for i in range(100))
    response = mgmt.post("targets/d/metadata", [{"key": "one-more"}])
    assert response.status_code == 429
    assert response.json()["errorCode"] == "hawkbit.server.error.quota.tooManyEntries"


def test_metadata_put_needs_a_value(mgmt):
    make_device("d")
    assert mgmt.put("targets/d/metadata/k", {"other": 1}).status_code == 400
    assert mgmt.put("targets/d/metadata/k", {"value": 5}).status_code == 400


def test_metadata_writes_need_update_target(mgmt_as):
    make_device("d")
    reader = mgmt_as("view_device")
    assert reader.post("targets/d/metadata", [{"key": "k"}]).status_code == 403
    assert reader.put("targets/d/metadata/k", {"value": "v"}).status_code == 403
    assert reader.delete("targets/d/metadata/k").status_code == 403
    assert not DeviceMetadata.objects.exists()


def test_metadata_is_the_operators_not_the_devices(mgmt):
    make_device("d", attributes={"site": "device says"})
    mgmt.post("targets/d/metadata", [{"key": "site", "value": "operator says"}])
    assert mgmt.get("targets/d/attributes").json() == {"site": "device says"}


# --- auto-confirm -----------------------------------------------------------------------------


def test_auto_confirm_activate_and_deactivate(mgmt):
    make_device("d")
    body = mgmt.get("targets/d/autoConfirm").json()
    assert body == {
        "active": False,
        "_links": {"activate": {"href": f"{BASE}/targets/d/autoConfirm/activate"}},
    }

    response = mgmt.post("targets/d/autoConfirm/activate", {"initiator": "ops", "remark": "fleet"})
    assert response.status_code == 204
    body = mgmt.get("targets/d/autoConfirm").json()
    assert (body["active"], body["initiator"], body["remark"]) == (True, "ops", "fleet")
    assert isinstance(body["activatedAt"], int)
    assert body["_links"] == {"deactivate": {"href": f"{BASE}/targets/d/autoConfirm/deactivate"}}
    assert mgmt.post("targets/d/autoConfirm/activate", {}).status_code == 409

    assert mgmt.post("targets/d/autoConfirm/deactivate").status_code == 204
    assert Device.objects.get(controller_id="d").auto_confirm is False


def test_auto_confirm_refuses_a_bad_remark(mgmt, mgmt_as):
    make_device("d")
    assert mgmt.post("targets/d/autoConfirm/activate", {"remark": "r" * 600}).status_code == 400
    assert mgmt_as("view_device").post("targets/d/autoConfirm/activate", {}).status_code == 403


@pytest.mark.parametrize("key", ["nul%00key", "k" * 200])
def test_metadata_keys_no_key_can_be_are_404(mgmt, key):
    make_device("d")
    assert mgmt.get(f"targets/d/metadata/{key}").status_code == 404
    assert mgmt.delete(f"targets/d/metadata/{key}").status_code == 404
    assert mgmt.put(f"targets/d/metadata/{key}", {"value": "v"}).status_code == 400


def test_controller_ids_no_target_can_have_are_404(mgmt):
    assert mgmt.get("targets/nul%00id").status_code == 404
    assert mgmt.get("targets/" + "x" * 300).status_code == 404
    assert mgmt.put("targets/nul%00id", {"name": "x"}).status_code == 404


def test_a_target_address_is_stored_until_the_device_polls_from_its_own(mgmt):
    response = mgmt.post("targets", [{"controllerId": "a", "address": "https://192.168.1.100"}])
    assert response.json()[0]["address"] == "https://192.168.1.100"
    assert mgmt.put("targets/a", {"address": "amqp://exchange/a"}).json()["address"] == "amqp://exchange/a"
    Device.objects.filter(controller_id="a").update(last_ip="10.0.0.7")
    assert mgmt.get("targets/a").json()["address"] == "http://10.0.0.7"


@pytest.mark.parametrize("address", ["not a uri", "192.168.1.100", "https://" + "x" * 600])
def test_an_address_that_is_not_a_uri_is_400(mgmt, address):
    response = mgmt.post("targets", [{"controllerId": "a", "address": address}])
    assert response.status_code == 400
    assert "address" in response.json()["message"]
    assert not Device.objects.filter(controller_id="a").exists()
