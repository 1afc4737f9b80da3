"""Action type, forcetime, weight and maintenance window through the operator API."""

from __future__ import annotations

import pytest

from devices.models import Device
from rollouts.models import Action, Rollout
from tests.api.helpers import post
from tests.factories import make_device, make_software

pytestmark = pytest.mark.django_db

WINDOW = {"schedule": "0 30 2 ? * *", "duration": "01:00:00", "timezone": "+02:00"}


def test_assign_with_options_creates_the_action_with_them(api):
    software = make_software("2.0.0")
    make_device("dev-1", sw_version="1.0.0")

    response = post(
        api,
        "/api/v1/devices/dev-1/assign/",
        {"software": software.pk, "action_type": "soft", "weight": 300, "maintenance_window": WINDOW},
    )

    assert response.status_code == 200, response.json()
    assert response.json()["assignment_options"] == {
        "action_type": "soft",
        "forcetime": None,
        "weight": 300,
        "maintenance_window": WINDOW,
    }
    action = Action.objects.get()
    assert (action.action_type, action.weight, action.maintenance_window) == ("soft", 300, WINDOW)
    listed = api.get(f"/api/v1/actions/{action.pk}/").json()
    assert {key: listed[key] for key in ("action_type", "forcetime", "weight", "maintenance_window")} == {
        "action_type": "soft",
        "forcetime": None,
        "weight": 300,
        "maintenance_window": WINDOW,
    }


def test_assign_timeforced_keeps_the_forcetime(api):
    software = make_software("2.0.0")
    make_device("dev-1", sw_version="1.0.0")

    response = post(
        api,
        "/api/v1/devices/dev-1/assign/",
        {"software": software.pk, "action_type": "timeforced", "forcetime": "2030-01-02T03:04:05Z"},
    )

    assert response.status_code == 200, response.json()
    assert (
        api.get(f"/api/v1/actions/{Action.objects.get().pk}/").json()["forcetime"] == "2030-01-02T03:04:05Z"
    )


@pytest.mark.parametrize(
    ("options", "detail"),
    [
        ({"action_type": "later"}, 'action_type: "later" is not a valid choice.'),
        ({"action_type": "timeforced"}, "forcetime is required for a timeforced update"),
        (
            {"action_type": "soft", "forcetime": "2030-01-02T03:04:05Z"},
            "forcetime only applies to timeforced updates, not soft",
        ),
        ({"weight": 1001}, "weight must be from 0 to 1000, got 1001"),
        ({"weight": -1}, "weight must be from 0 to 1000, got -1"),
        (
            {"maintenance_window": {"schedule": "0 30 2 ? * *", "duration": "01:00:00"}},
            "maintenance_window.timezone: This field is required.",
        ),
        (
            {"maintenance_window": {**WINDOW, "schedule": "30 2 * * *"}},
            "maintenance_window.schedule must be a Quartz cron expression with seconds (6 or 7 fields, "
            "e.g. '0 30 2 ? * *'), got '30 2 * * *'",
        ),
        (
            {"maintenance_window": {**WINDOW, "schedule": "0 0 12 1 1 ? 2020"}},
            "maintenance_window.schedule '0 0 12 1 1 ? 2020' has no future maintenance window",
        ),
        (
            {"maintenance_window": {**WINDOW, "duration": "1h"}},
            "maintenance_window.duration must be HH:mm:ss, e.g. '01:00:00', got '1h'",
        ),
        (
            {"maintenance_window": {**WINDOW, "timezone": "Europe/Berlin"}},
            "maintenance_window.timezone must be a UTC offset such as '+02:00' or '-05:30', "
            "got 'Europe/Berlin'",
        ),
    ],
)
def test_assign_refuses_bad_options_naming_the_problem_and_changes_nothing(api, options, detail):
    software = make_software("2.0.0")
    make_device("dev-1", sw_version="1.0.0")

    response = post(api, "/api/v1/devices/dev-1/assign/", {"software": software.pk, **options})

    assert (response.status_code, response.json()) == (400, {"detail": detail})
    assert Device.objects.get().update_mode == Device.UpdateMode.ROLLOUT
    assert not Action.objects.exists()


def test_rollout_create_takes_the_options_and_its_actions_copy_them(api, client):
    software = make_software("2.0.0")
    make_device("dev-1", sw_version="1.0.0")

    response = post(
        api,
        "/api/v1/rollouts/",
        {
            "name": "night",
            "feed": "default",
            "software": software.pk,
            "start": True,
            "action_type": "downloadonly",
            "weight": 10,
            "maintenance_window": WINDOW,
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["action_type"], body["weight"], body["maintenance_window"]) == ("downloadonly", 10, WINDOW)
    assert client.get("/DEFAULT/controller/v1/dev-1").status_code == 200  # the device polls
    action = Action.objects.get()
    assert (action.action_type, action.weight, action.maintenance_window) == ("downloadonly", 10, WINDOW)


def test_rollout_create_refuses_bad_options(api):
    software = make_software("2.0.0")

    response = post(
        api, "/api/v1/rollouts/", {"name": "x", "feed": "default", "software": software.pk, "weight": 5000}
    )

    assert (response.status_code, response.json()) == (
        400,
        {"detail": "weight must be from 0 to 1000, got 5000"},
    )
    assert not Rollout.objects.exists()


def test_rollout_options_are_fixed_once_created(api):
    rollout = Rollout.objects.create(name="r", feed="default", software=make_software("2.0.0"))

    response = api.patch(
        f"/api/v1/rollouts/{rollout.pk}/", {"action_type": "soft"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "action_type of a rollout cannot change; create a new rollout (it takes the feed over)"
    }


def test_force_switches_an_open_soft_action_to_forced(api):
    software = make_software("2.0.0")
    make_device("dev-1", sw_version="1.0.0")
    post(api, "/api/v1/devices/dev-1/assign/", {"software": software.pk, "action_type": "soft"})
    action = Action.objects.get()

    response = post(api, f"/api/v1/actions/{action.pk}/force/")
    again = post(api, f"/api/v1/actions/{action.pk}/force/")

    assert response.status_code == 200
    assert response.json()["action_type"] == "forced"
    assert (again.status_code, again.json()) == (405, {"detail": f"action {action.pk} is forced already"})
