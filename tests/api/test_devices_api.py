"""The device API: registry, operator commands, errors in one shape, permissions, no token leaks."""

from __future__ import annotations

import base64

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices.models import Device
from goosebit_project.lib.tokens import hash_token, token_matches
from rollouts.models import Action
from tests.api.helpers import post, user_with
from tests.factories import make_device, make_hardware, make_rollout, make_software
from tests.rollouts.ddi_helpers import feedback, offered_action_id

pytestmark = pytest.mark.django_db

URL = "/api/v1/devices/"


# --- read ------------------------------------------------------------------------------------


def test_list_shows_devices_without_any_token_material(api):
    hardware = make_hardware("board", "2")
    device = make_device("dev-1", hardware=hardware, token="s3cret", sw_version="1.0", name="kiosk")
    device.attributes = {"hw_boardname": "board"}
    device.save()

    response = api.get(URL)

    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": device.pk,
                "controller_id": "dev-1",
                "name": "kiosk",
                "hardware": {"id": hardware.pk, "model": "board", "revision": "2"},
                "sw_version": "1.0",
                "update_mode": "rollout",
                "feed": "default",
                "assigned_software": None,
                "assignment_options": {},
                "assigned_confirmation_required": True,
                "force_update": False,
                "state": "registered",
                "progress": None,
                "last_seen": None,
                "last_ip": None,
                "has_token": True,
                "auto_confirm": False,
                "auto_confirm_initiator": "",
                "auto_confirm_remark": "",
                "auto_confirm_activated_at": None,
                "attributes": {"hw_boardname": "board"},
                "tags": [],
                "created": response.json()["results"][0]["created"],
                "updated": response.json()["results"][0]["updated"],
            }
        ],
    }
    assert "s3cret" not in response.content.decode()
    assert hash_token("s3cret") not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=error", ["broken"]),
        ("state=error&state=finished", ["broken", "done"]),
        ("update_mode=pinned", ["pinned"]),
        ("feed=beta", ["beta-1"]),
        ("hardware_model=other", ["other-board"]),
        ("search=KIOSK", ["done"]),
        ("search=10.0.0", ["broken"]),
        ("sw_version=2.0", ["done"]),
    ],
)
def test_list_filters(api, query, expected):
    make_device("broken", state=Device.State.ERROR, last_ip="10.0.0.7")
    make_device("done", state=Device.State.FINISHED, name="Lobby kiosk", sw_version="2.0")
    make_device("pinned", update_mode=Device.UpdateMode.PINNED)
    make_device("beta-1", feed="beta")
    make_device("other-board", hardware=make_hardware("other"))

    response = api.get(f"{URL}?{query}")

    assert response.status_code == 200
    assert [item["controller_id"] for item in response.json()["results"]] == expected


def test_list_filters_by_hardware_id(api):
    other = make_hardware("other")
    make_device("a")
    make_device("b", hardware=other)
    response = api.get(f"{URL}?hardware={other.pk}")
    assert [item["controller_id"] for item in response.json()["results"]] == ["b"]


def test_a_bad_filter_value_is_a_400_in_the_one_error_shape(api):
    response = api.get(f"{URL}?state=sleeping")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "state: Select a valid choice. sleeping is not one of the available choices."
    }


def test_the_list_costs_the_same_queries_for_2_or_20_devices(api):
    for _ in range(2):
        make_device()
    with CaptureQueriesContext(connection) as small:
        assert api.get(URL).status_code == 200
    for _ in range(18):
        make_device(hardware=make_hardware(f"board-{_}"))
    with CaptureQueriesContext(connection) as large:
        assert len(api.get(URL).json()["results"]) == 20
    assert len(small) == len(large)


def test_retrieve_by_controller_id_even_with_dots(api):
    make_device("dev.1:a")
    response = api.get(f"{URL}dev.1:a/")
    assert response.status_code == 200
    assert response.json()["controller_id"] == "dev.1:a"


def test_an_unknown_device_is_a_404(api):
    response = api.get(f"{URL}ghost/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No Device matches the given query."}


# --- create, edit, delete --------------------------------------------------------------------


def test_pre_registering_returns_the_token_once(api):
    response = post(api, URL, {"controller_id": "dev-1", "name": "kiosk", "feed": "beta", "token": "s3cret"})

    assert response.status_code == 201
    body = response.json()
    assert (body["controller_id"], body["name"], body["feed"], body["state"]) == (
        "dev-1",
        "kiosk",
        "beta",
        "unknown",
    )
    assert (body["token"], body["has_token"]) == ("s3cret", True)
    device = Device.objects.get(controller_id="dev-1")
    assert token_matches("s3cret", device.token_hash)
    assert "token" not in api.get(f"{URL}dev-1/").json()


def test_pre_registering_can_generate_a_token(api):
    response = post(api, URL, {"controller_id": "dev-1", "generate_token": True})
    assert response.status_code == 201
    token = response.json()["token"]
    assert len(token) == 32
    assert token_matches(token, Device.objects.get().token_hash)


def test_pre_registering_without_a_token_says_so(api):
    response = post(api, URL, {"controller_id": "dev-1"})
    assert response.status_code == 201
    assert (response.json()["token"], response.json()["has_token"], response.json()["feed"]) == (
        None,
        False,
        "default",
    )


BAD_TOKEN = "a device token is 1 to 128 characters without spaces"
BOTH_TOKENS = "give a token or generate_token, not both"


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({}, 400, "controller_id: This field is required."),
        ({"controller_id": "a/b"}, 400, "a controller id must not contain '/'"),
        ({"controller_id": "x" * 257}, 400, "a controller id is at most 256 characters"),
        ({"controller_id": "dev", "token": "a b"}, 400, BAD_TOKEN),
        ({"controller_id": "dev", "token": "t", "generate_token": True}, 400, BOTH_TOKENS),
        ({"controller_id": "taken"}, 409, "device taken exists already"),
    ],
)
def test_pre_registering_refuses_bad_input_and_writes_nothing(api, body, status, detail):
    make_device("taken")
    response = post(api, URL, body)
    assert response.status_code == status
    assert response.json() == {"detail": detail}
    assert list(Device.objects.values_list("controller_id", flat=True)) == ["taken"]


def test_patch_renames_and_changes_the_feed_but_not_the_mode(api):
    make_device("dev-1", update_mode=Device.UpdateMode.LATEST)
    response = api.patch(f"{URL}dev-1/", {"name": "kiosk", "feed": "beta"}, content_type="application/json")
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["feed"], response.json()["update_mode"]) == (
        "kiosk",
        "beta",
        "latest",
    )


def test_patch_refuses_an_empty_feed(api):
    make_device("dev-1")
    response = api.patch(f"{URL}dev-1/", {"feed": " "}, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "feed: This field may not be blank."}
    assert Device.objects.get().feed == "default"


def test_put_is_not_offered(api):
    make_device("dev-1")
    response = api.put(f"{URL}dev-1/", {"name": "x"}, content_type="application/json")
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "PUT" not allowed.'}


def test_delete_forgets_the_device(api):
    make_device("dev-1")
    assert api.delete(f"{URL}dev-1/").status_code == 204
    assert not Device.objects.exists()


# --- operator commands -----------------------------------------------------------------------


def test_assign_sets_assigned_mode(api):
    software = make_software("2.0.0")
    make_device("dev-1")
    response = post(api, f"{URL}dev-1/assign/", {"software": software.pk})
    assert response.status_code == 200
    assert (response.json()["update_mode"], response.json()["assigned_software"]) == ("assigned", software.pk)
    assert response.json()["warnings"] == []


def test_assign_to_a_device_without_hardware_works_and_says_compatibility_was_not_checked(api):
    software = make_software("2.0.0", compatibility=[make_hardware("rpi4", "1")])
    device = make_device("dev-1")
    Device.objects.filter(pk=device.pk).update(hardware=None)

    response = post(api, f"{URL}dev-1/assign/", {"software": software.pk})

    assert response.status_code == 200
    body = response.json()
    assert (body["update_mode"], body["assigned_software"], body["hardware"]) == (
        "assigned",
        software.pk,
        None,
    )
    assert body["warnings"] == [
        "device dev-1 has not reported its hardware, so the compatibility of software 2.0.0 "
        "(update-2.0.0.swu) with it was not checked"
    ]


def test_assign_refuses_unknown_or_incompatible_software(api):
    make_device("dev-1", hardware=make_hardware("other", "3"))
    software = make_software("2.0.0")

    unknown = post(api, f"{URL}dev-1/assign/", {"software": 999})
    incompatible = post(api, f"{URL}dev-1/assign/", {"software": software.pk})
    missing = post(api, f"{URL}dev-1/assign/")

    assert (unknown.status_code, unknown.json()) == (400, {"detail": "software 999 does not exist"})
    assert incompatible.status_code == 400
    assert incompatible.json() == {
        "detail": "software 2.0.0 (update-2.0.0.swu) is not compatible with dev-1's hardware other 3"
    }
    assert (missing.status_code, missing.json()) == (400, {"detail": "software: This field is required."})
    assert Device.objects.get().update_mode == Device.UpdateMode.ROLLOUT


def test_mode_commands(api):
    make_device("dev-1", feed="beta")
    assert post(api, f"{URL}dev-1/latest/").json()["update_mode"] == "latest"
    assert post(api, f"{URL}dev-1/pin/").json()["update_mode"] == "pinned"
    unpinned = post(api, f"{URL}dev-1/unpin/").json()
    assert (unpinned["update_mode"], unpinned["feed"]) == ("rollout", "beta")
    followed = post(api, f"{URL}dev-1/set-feed/", {"feed": "stable"}).json()
    assert (followed["update_mode"], followed["feed"]) == ("rollout", "stable")
    empty = post(api, f"{URL}dev-1/set-feed/", {"feed": ""})
    assert (empty.status_code, empty.json()) == (400, {"detail": "a feed name is required for rollout mode"})


def test_retry_cancel_and_force_quit(api, client):
    make_rollout(make_software("2.0.0"))
    make_device("dev-1", sw_version="1.0.0")
    action_id = offered_action_id(client, "dev-1")
    assert action_id is not None
    feedback(client, "dev-1", action_id, "proceeding")

    canceled = post(api, f"{URL}dev-1/cancel-update/")
    assert (canceled.status_code, canceled.json()["state"]) == (200, "canceling")
    assert Action.objects.get(pk=action_id).status == Action.Status.CANCELING

    quit_ = post(api, f"{URL}dev-1/force-quit/")
    assert (quit_.status_code, quit_.json()["state"]) == (200, "registered")
    assert Action.objects.get(pk=action_id).status == Action.Status.CANCELED

    again = post(api, f"{URL}dev-1/force-quit/")
    assert again.status_code == 409
    assert again.json() == {
        "detail": "device dev-1 has no update being canceled; "
        "force-quit applies only after a cancel the device has not confirmed"
    }
    nothing = post(api, f"{URL}dev-1/cancel-update/")
    assert (nothing.status_code, nothing.json()) == (
        409,
        {"detail": "device dev-1 has no update under way to cancel"},
    )

    retried = post(api, f"{URL}dev-1/retry/")
    assert (retried.status_code, retried.json()["force_update"]) == (200, True)
    assert offered_action_id(client, "dev-1") not in (None, action_id)


def test_rotate_token_returns_the_new_token_once(api):
    device = make_device("dev-1", token="old")
    response = post(api, f"{URL}dev-1/rotate-token/")
    assert response.status_code == 200
    assert list(response.json()) == ["token"]
    device.refresh_from_db()
    assert token_matches(response.json()["token"], device.token_hash)
    assert not token_matches("old", device.token_hash)


# --- authentication and permissions ----------------------------------------------------------


def test_anonymous_requests_are_refused(client):
    make_device("dev-1")
    response = client.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="api"'
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_read_only_user_can_list_but_not_change(client):
    make_device("dev-1")
    client.force_login(user_with("view_device"))

    assert client.get(URL).status_code == 200
    assert client.get(f"{URL}dev-1/").status_code == 200
    pinned = post(client, f"{URL}dev-1/pin/")
    assert pinned.status_code == 403
    assert pinned.json() == {"detail": "You do not have permission to perform this action."}
    assert client.patch(f"{URL}dev-1/", {"name": "x"}, content_type="application/json").status_code == 403
    assert Device.objects.get().update_mode == Device.UpdateMode.ROLLOUT


def test_a_user_without_the_view_permission_cannot_list(client):
    client.force_login(user_with())
    assert client.get(URL).status_code == 403


def test_commands_need_the_change_permission_not_add(client):
    make_device("dev-1")
    client.force_login(user_with("view_device", "change_device"))
    assert post(client, f"{URL}dev-1/pin/").status_code == 200
    assert post(client, URL, {"controller_id": "new"}).status_code == 403
    assert client.delete(f"{URL}dev-1/").status_code == 403


def test_basic_authentication_works_for_scripts(client):
    user_with("view_device")
    make_device("dev-1")
    credentials = base64.b64encode(b"user-view_device:pw").decode()
    response = client.get(URL, HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_a_controller_id_with_a_nul_is_a_404_not_a_database_error(api):
    # PostgreSQL refuses NUL in a query: this was a 500 there.
    for response in (api.get(f"{URL}a%00b/"), api.post(f"{URL}a%00b/pin/")):
        assert response.status_code == 404
        assert response.json() == {"detail": "device 'a\\x00b' does not exist"}
