"""The confirmation flow in the operator API: confirmation_required on assignments and rollouts,
auto-confirm on and off per device."""

from __future__ import annotations

import pytest

from devices.models import Device
from rollouts.models import Action, Rollout
from tests.api.helpers import post, user_with
from tests.factories import make_device, make_software

pytestmark = pytest.mark.django_db

URL = "/api/v1/devices/"


@pytest.fixture
def flow_on(settings):
    settings.GOOSEBIT_CONFIRMATION_FLOW = True


def test_an_assignment_requires_confirmation_by_default(api, flow_on):
    make_device("dev-1", sw_version="1.0")
    software = make_software("2.0.0")

    response = post(api, f"{URL}dev-1/assign/", {"software": software.pk})

    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["assigned_confirmation_required"]) == ("wait_for_confirmation", True)
    action = Action.objects.get(device__controller_id="dev-1")
    assert action.status == Action.Status.WAIT_FOR_CONFIRMATION
    listed = api.get("/api/v1/actions/?status=waiting_for_confirmation").json()
    assert [item["id"] for item in listed["results"]] == [action.pk]


def test_an_assignment_may_skip_confirmation(api, flow_on):
    make_device("dev-1", sw_version="1.0")

    response = post(
        api, f"{URL}dev-1/assign/", {"software": make_software("2.0.0").pk, "confirmation_required": False}
    )

    assert (response.json()["state"], response.json()["assigned_confirmation_required"]) == ("pending", False)


def test_confirmation_required_must_be_a_boolean(api, flow_on):
    make_device("dev-1")

    response = post(
        api, f"{URL}dev-1/assign/", {"software": make_software("2.0.0").pk, "confirmation_required": "maybe"}
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "confirmation_required: Must be a valid boolean."}


def test_activate_auto_confirm_confirms_the_waiting_update_and_409s_the_second_time(api, flow_on):
    make_device("dev-1", sw_version="1.0")
    post(api, f"{URL}dev-1/assign/", {"software": make_software("2.0.0").pk})

    response = post(api, f"{URL}dev-1/activate-auto-confirm/", {"remark": "maintenance night"})
    again = post(api, f"{URL}dev-1/activate-auto-confirm/")

    assert response.status_code == 200
    body = response.json()
    assert (
        body["auto_confirm"],
        body["auto_confirm_initiator"],
        body["auto_confirm_remark"],
        body["state"],
    ) == (
        True,
        "root",
        "maintenance night",
        "pending",
    )
    assert body["auto_confirm_activated_at"] is not None
    assert Action.objects.get(device__controller_id="dev-1").status == Action.Status.PENDING
    assert (again.status_code, again.json()) == (
        409,
        {"detail": "auto-confirm is already active for device dev-1"},
    )


def test_activate_takes_an_initiator_and_refuses_long_text(api):
    make_device("dev-1")

    long_remark = post(api, f"{URL}dev-1/activate-auto-confirm/", {"remark": "x" * 513})
    response = post(api, f"{URL}dev-1/activate-auto-confirm/", {"initiator": "ops-bot"})

    assert long_remark.status_code == 400
    assert long_remark.json() == {"detail": "remark: Ensure this field has no more than 512 characters."}
    assert response.json()["auto_confirm_initiator"] == "ops-bot"


def test_deactivate_auto_confirm(api, flow_on):
    device = make_device("dev-1", sw_version="1.0")
    post(api, f"{URL}dev-1/activate-auto-confirm/")

    response = post(api, f"{URL}dev-1/deactivate-auto-confirm/")

    assert response.status_code == 200
    assert (response.json()["auto_confirm"], response.json()["auto_confirm_initiator"]) == (False, "")
    post(api, f"{URL}dev-1/assign/", {"software": make_software("2.0.0").pk})
    device.refresh_from_db()
    assert device.state == Device.State.WAIT_FOR_CONFIRMATION


def test_auto_confirm_needs_the_change_permission(client):
    make_device("dev-1")
    client.force_login(user_with("view_device"))

    response = post(client, f"{URL}dev-1/activate-auto-confirm/")

    assert response.status_code == 403
    assert Device.objects.get(controller_id="dev-1").auto_confirm is False


def test_cancel_update_of_a_waiting_update_closes_it_at_once(api, flow_on):
    make_device("dev-1", sw_version="1.0")
    post(api, f"{URL}dev-1/assign/", {"software": make_software("2.0.0").pk})

    response = post(api, f"{URL}dev-1/cancel-update/")

    assert response.status_code == 200
    assert response.json()["state"] == "registered"
    assert Action.objects.get(device__controller_id="dev-1").status == Action.Status.CANCELED


def test_a_rollout_takes_confirmation_required(api, flow_on):
    software = make_software("2.0.0")

    default = post(api, "/api/v1/rollouts/", {"name": "a", "feed": "default", "software": software.pk})
    without = post(
        api,
        "/api/v1/rollouts/",
        {"name": "b", "feed": "other", "software": software.pk, "confirmation_required": False},
    )

    assert (default.status_code, without.status_code) == (201, 201)
    assert (default.json()["confirmation_required"], without.json()["confirmation_required"]) == (True, False)
    assert list(Rollout.objects.order_by("name").values_list("confirmation_required", flat=True)) == [
        True,
        False,
    ]
