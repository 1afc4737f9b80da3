"""Update history is a record, not a form: nobody adds, edits or deletes an action by hand."""

from __future__ import annotations

import pytest

from devices.models import Device
from rollouts.models import Action, ActionStatus
from tests.factories import make_action, make_device, make_software

pytestmark = pytest.mark.django_db

URL = "/admin/rollouts/action/"


@pytest.fixture
def action() -> Action:
    action = make_action(make_device("d1"), make_software("1.0.0"), status=Action.Status.RUNNING)
    ActionStatus.objects.create(action=action, execution="proceeding", details=["Downloading"])
    return action


def test_nobody_adds_an_action_by_hand(admin_client, operator_client):
    device, software = make_device("d2"), make_software("2.0.0")
    posted = {"device": device.pk, "software": software.pk, "reason": "assigned", "status": "pending"}

    for client in (admin_client, operator_client):
        assert client.get(f"{URL}add/").status_code == 403
        assert client.post(f"{URL}add/", posted).status_code == 403

    assert not Action.objects.exists()
    assert 'href="/admin/rollouts/action/add/"' not in admin_client.get(URL).content.decode()


def test_an_action_page_is_read_only_for_a_superuser(admin_client, action):
    response = admin_client.post(
        f"{URL}{action.pk}/change/",
        {"device": action.device_id, "software": action.software_id, "status": "finished"},
    )
    assert response.status_code == 403
    action.refresh_from_db()
    assert action.status == Action.Status.RUNNING

    html = admin_client.get(f"{URL}{action.pk}/change/").content.decode()
    assert 'name="_save"' not in html
    assert "Downloading" in html
    # The status inline offers no add row, no empty form and no delete boxes.
    assert "add-row" not in html
    assert "statuses-__prefix__" not in html
    assert "-DELETE" not in html


def test_nobody_deletes_an_action_by_hand(admin_client, action):
    assert admin_client.post(f"{URL}{action.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.post(
        URL, {"action": "delete_selected", "_selected_action": [action.pk], "post": "yes"}
    ).status_code in (200, 302)
    assert Action.objects.filter(pk=action.pk).exists()


def test_a_device_is_still_deleted_with_its_history(operator_client, action):
    page = operator_client.get(f"/admin/devices/device/{action.device_id}/delete/")
    assert page.status_code == 200
    assert "permission to delete" not in page.content.decode()

    response = operator_client.post(f"/admin/devices/device/{action.device_id}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Device.objects.filter(pk=action.device_id).exists()
    assert not Action.objects.exists()
