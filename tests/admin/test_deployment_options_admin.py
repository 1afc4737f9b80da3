"""Action type, forcetime, weight and maintenance window in the admin: when assigning (device
page, bulk action), on rollouts, shown on the pages, and the "Switch to forced" button."""

from __future__ import annotations

import pytest

from devices.models import Device
from rollouts.models import Action, Rollout
from tests.admin.test_device_actions import act
from tests.admin.test_device_page import form_data, page_url
from tests.admin.test_rollout_pages import add_data
from tests.factories import make_device, make_hardware, make_software

pytestmark = pytest.mark.django_db

OPTIONS = {
    "action_type": "soft",
    "weight": "250",
    "maintenance_schedule": "0 30 2 ? * *",
    "maintenance_duration": "01:00:00",
    "maintenance_timezone": "+02:00",
}


def test_the_device_page_assigns_with_options_and_shows_them(admin_client):
    device = make_device("d1", sw_version="1.0.0")
    software = make_software("2.0.0")

    response = admin_client.post(
        page_url(device), form_data(device, update_mode="assigned", assigned_software=software.pk, **OPTIONS)
    )

    assert response.status_code == 302
    action = Action.objects.get(device=device)
    assert (action.action_type, action.weight, action.maintenance_schedule) == ("soft", 250, "0 30 2 ? * *")
    page = admin_client.get(page_url(device))
    assert page.context["adminform"].form.initial["action_type"] == "soft"
    html = page.content.decode()
    assert "soft, weight 250, maintenance window &#x27;0 30 2 ? * *&#x27; for 01:00:00 (+02:00)" in html
    assert "Switch to forced" in html


def test_the_device_page_names_a_bad_option_on_its_field(admin_client):
    device = make_device("d1", sw_version="1.0.0")
    software = make_software("2.0.0")

    response = admin_client.post(
        page_url(device),
        form_data(
            device,
            update_mode="assigned",
            assigned_software=software.pk,
            action_type="timeforced",
            maintenance_schedule="0 0 12 1 1 ? 2020",
            maintenance_duration="01:00:00",
            maintenance_timezone="+00:00",
        ),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["forcetime"] == ["forcetime is required for a timeforced update"]
    assert not Action.objects.exists()
    assert Device.objects.get().update_mode == Device.UpdateMode.ROLLOUT


def test_switch_to_forced_forces_the_current_soft_update(admin_client):
    device = make_device("d1", sw_version="1.0.0")
    software = make_software("2.0.0")
    admin_client.post(
        page_url(device),
        form_data(device, update_mode="assigned", assigned_software=software.pk, action_type="soft"),
    )

    response = admin_client.post(page_url(device, "force-action/"))

    assert response.status_code == 302
    assert Action.objects.get().action_type == Action.ActionType.FORCED
    assert "Switch to forced" not in admin_client.get(page_url(device)).content.decode()


def test_the_bulk_assignment_takes_the_options(admin_client):
    board = make_hardware("rpi4", "1")
    software = make_software("2.0.0", compatibility=[board])
    devices = [make_device("a", hardware=board), make_device("b", hardware=board)]

    page = act(admin_client, "assign_software", devices)
    response = act(
        admin_client,
        "assign_software",
        devices,
        apply=True,
        software=str(software.pk),
        action_type="downloadonly",
    )

    assert 'id="gb-assign-options"' in page.content.decode()
    assert response.status_code == 302
    assert sorted(Action.objects.values_list("device__controller_id", "action_type")) == [
        ("a", "downloadonly"),
        ("b", "downloadonly"),
    ]


def test_the_bulk_assignment_refuses_bad_options_on_the_page(admin_client):
    board = make_hardware("rpi4", "1")
    software = make_software("2.0.0", compatibility=[board])
    devices = [make_device("a", hardware=board)]

    response = act(
        admin_client,
        "assign_software",
        devices,
        apply=True,
        software=str(software.pk),
        maintenance_schedule="0 30 2 ? * *",
    )

    assert response.status_code == 200
    assert response.context["form"].errors["maintenance_schedule"] == [
        "maintenance_window needs schedule, duration and timezone together; duration, timezone missing"
    ]
    assert not Action.objects.exists()


def test_a_rollout_is_created_with_options_and_shows_them(admin_client):
    software = make_software("2.0.0")
    data = add_data(software, start="on", _confirmed=f"default|{software.pk}|1", **OPTIONS)

    response = admin_client.post("/admin/rollouts/rollout/add/", data)

    assert response.status_code == 302
    rollout = Rollout.objects.get()
    assert (rollout.action_type, rollout.weight, rollout.maintenance_timezone) == ("soft", 250, "+02:00")
    html = admin_client.get(f"/admin/rollouts/rollout/{rollout.pk}/change/").content.decode()
    assert "Offered as" in html and "soft, weight 250" in html


def test_a_rollout_with_a_bad_option_is_not_created(admin_client):
    software = make_software("2.0.0")
    data = add_data(
        software, _confirmed=f"default|{software.pk}|0", action_type="soft", forcetime="2030-01-01T00:00"
    )

    response = admin_client.post("/admin/rollouts/rollout/add/", data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["forcetime"] == [
        "forcetime only applies to timeforced updates, not soft"
    ]
    assert not Rollout.objects.exists()
