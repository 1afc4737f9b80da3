"""Action types, forcetime and maintenance windows as devices see them (ddi.md §1.3's table),
the ``?c=`` that changes with them, and the feedback rules for skipped and download-only updates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.models import Device
from goosebit_project.lib.errors import NotAllowed
from rollouts import options, services
from rollouts.models import Action, ActionStatus
from rollouts.options import DeploymentOptions, deployment_options_validate
from tests.ddi.helpers import (
    ddi_url,
    deployment_json,
    feedback_body,
    install,
    known_device,
    links_of,
    poll,
    post_feedback,
    start_action,
)
from tests.factories import make_software

pytestmark = pytest.mark.django_db

# A window that opens every second for a second: open whenever a test looks.
ALWAYS_OPEN = {
    "maintenance_schedule": "* * * ? * *",
    "maintenance_duration": "00:00:01",
    "maintenance_timezone": "+00:00",
}
# Every day 03:00:00-04:00:00 UTC; tests move "now" around it.
NIGHTLY = {
    "maintenance_schedule": "0 0 3 ? * *",
    "maintenance_duration": "01:00:00",
    "maintenance_timezone": "+00:00",
}
DAY = datetime(2027, 3, 10, tzinfo=UTC)


def closed_window() -> dict[str, str]:
    """Daily, opening 12 hours from now: closed whenever a test looks."""
    at = timezone.now().astimezone(UTC) + timedelta(hours=12)
    return {
        "maintenance_schedule": f"{at.second} {at.minute} {at.hour} ? * *",
        "maintenance_duration": "01:00:00",
        "maintenance_timezone": "+00:00",
    }


def _action(**fields) -> Action:
    device = known_device("dev-1", sw_version="1.0.0")
    action = start_action(device, make_software("2.0.0"))
    Action.objects.filter(pk=action.pk).update(**fields)
    action.refresh_from_db()
    return action


def _deployment(client, action: Action) -> dict:
    response = client.get(ddi_url("dev-1", "deploymentBase", action.pk), HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    return response.json()["deployment"]


def _href(client) -> str:
    return links_of(client, "dev-1", HTTP_ACCEPT="application/json")["deploymentBase"]["href"]


def _at(monkeypatch, moment: datetime) -> None:
    monkeypatch.setattr(options, "now", lambda: moment)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, {"download": "forced", "update": "forced"}),
        ({"action_type": "soft"}, {"download": "attempt", "update": "attempt"}),
        (
            {"action_type": "timeforced", "forcetime": timezone.now() + timedelta(days=1)},
            {"download": "attempt", "update": "attempt"},
        ),
        (
            {"action_type": "timeforced", "forcetime": timezone.now() - timedelta(seconds=1)},
            {"download": "forced", "update": "forced"},
        ),
        ({"action_type": "downloadonly"}, {"download": "forced", "update": "skip"}),
        (ALWAYS_OPEN, {"download": "forced", "update": "forced", "maintenanceWindow": "available"}),
        (
            {"action_type": "soft", **ALWAYS_OPEN},
            {"download": "attempt", "update": "attempt", "maintenanceWindow": "available"},
        ),
        (
            {"action_type": "downloadonly", **ALWAYS_OPEN},
            {"download": "forced", "update": "skip", "maintenanceWindow": "available"},
        ),
        ("closed", {"download": "forced", "update": "skip", "maintenanceWindow": "unavailable"}),
        (
            ("closed", "soft"),
            {"download": "attempt", "update": "skip", "maintenanceWindow": "unavailable"},
        ),
    ],
    ids=[
        "forced",
        "soft",
        "timeforced-before",
        "timeforced-after",
        "downloadonly",
        "forced-window-open",
        "soft-window-open",
        "downloadonly-window-open",
        "forced-window-closed",
        "soft-window-closed",
    ],
)
def test_deployment_base_says_download_update_and_window_as_hawkbit(ddi_client, fields, expected):
    if fields == "closed":
        fields = closed_window()
    elif fields == ("closed", "soft"):
        fields = {"action_type": "soft", **closed_window()}
    action = _action(**fields)

    deployment = _deployment(ddi_client, action)

    assert {key: value for key, value in deployment.items() if key != "chunks"} == expected
    assert deployment["chunks"] == deployment_json(action)["deployment"]["chunks"]


def test_the_window_key_comes_before_the_chunks_as_in_hawkbit(ddi_client):
    action = _action(**ALWAYS_OPEN)

    assert list(_deployment(ddi_client, action)) == ["download", "update", "maintenanceWindow", "chunks"]


def test_c_changes_when_a_timeforced_update_reaches_its_forcetime(ddi_client, monkeypatch):
    forcetime = DAY + timedelta(hours=12)
    action = _action(action_type="timeforced", forcetime=forcetime)
    _at(monkeypatch, forcetime - timedelta(seconds=1))
    before = _href(ddi_client)
    assert _href(ddi_client) == before  # stable while nothing changes
    assert _deployment(ddi_client, action)["update"] == "attempt"

    _at(monkeypatch, forcetime)
    after = _href(ddi_client)

    assert after != before
    assert _deployment(ddi_client, action)["update"] == "forced"


def test_c_changes_when_the_maintenance_window_opens_and_closes(ddi_client, monkeypatch):
    action = _action(**NIGHTLY)
    seen = {}
    for label, moment in (
        ("closed", DAY.replace(hour=2, minute=59, second=59)),
        ("open", DAY.replace(hour=3)),
        ("still open", DAY.replace(hour=3, minute=59, second=59)),
        ("closed again", DAY.replace(hour=4)),
    ):
        _at(monkeypatch, moment)
        deployment = _deployment(ddi_client, action)
        seen[label] = (_href(ddi_client), deployment["update"], deployment["maintenanceWindow"])

    assert seen["closed"][1:] == ("skip", "unavailable")
    assert seen["open"][1:] == ("forced", "available")
    assert seen["still open"] == seen["open"]
    assert seen["closed again"][1:] == ("skip", "unavailable")
    assert seen["open"][0] != seen["closed"][0]
    assert seen["closed again"][0] != seen["open"][0]


def test_a_window_read_in_its_time_zone(ddi_client, monkeypatch):
    # 03:00 at +02:00 is 01:00 UTC.
    action = _action(**{**NIGHTLY, "maintenance_timezone": "+02:00"})

    _at(monkeypatch, DAY.replace(hour=1, minute=30))
    assert _deployment(ddi_client, action)["maintenanceWindow"] == "available"
    _at(monkeypatch, DAY.replace(hour=3, minute=30))
    assert _deployment(ddi_client, action)["maintenanceWindow"] == "unavailable"


def test_forcing_a_soft_action_changes_what_the_next_poll_offers(ddi_client):
    action = _action(action_type="soft")
    before = _href(ddi_client)

    forced = services.action_force(action=action)

    assert forced.action_type == Action.ActionType.FORCED
    assert _href(ddi_client) != before
    assert _deployment(ddi_client, action)["update"] == "forced"
    notes = action.statuses.filter(source=ActionStatus.Source.SERVER).values_list("details", flat=True)
    assert ["Update Server: switched from soft to forced by an operator"] in list(notes)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "is forced already"),
        ({"action_type": "downloadonly"}, "is download-only: it cannot be forced into an install"),
        ({"action_type": "soft", "status": "finished"}, "only an open update can be forced"),
    ],
)
def test_only_open_soft_or_timeforced_actions_can_be_forced(fields, message):
    action = _action(**fields)

    with pytest.raises(NotAllowed, match=message):
        services.action_force(action=action)


def _poll_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        links_of(client, "dev-1", HTTP_ACCEPT="application/json")
    return len(queries)


def test_a_window_costs_the_poll_no_query(ddi_client, settings):
    settings.GOOSEBIT_LAST_SEEN_INTERVAL = 300
    action = _action()
    links_of(ddi_client, "dev-1")
    plain = _poll_queries(ddi_client)

    Action.objects.filter(pk=action.pk).update(action_type="timeforced", forcetime=timezone.now(), **NIGHTLY)

    assert _poll_queries(ddi_client) == plain


# --- feedback ---------------------------------------------------------------------------------


def test_a_download_only_update_finishes_on_downloaded_without_changing_the_installed_version(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    installed = install(device, make_software("1.0.0"))
    software = make_software("2.0.0")
    services.device_assign_software(
        device=device, software=software, options=DeploymentOptions(action_type="downloadonly")
    )
    action = Action.objects.get(device=device, software=software)
    assert _deployment(ddi_client, action)["update"] == "skip"

    response = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("downloaded", "success"))

    assert response.status_code == 200
    action.refresh_from_db()
    device.refresh_from_db()
    assert action.status == Action.Status.FINISHED
    assert (device.sw_version, device.installed_action_id) == ("1.0.0", installed.pk)
    assert device.state == Device.State.FINISHED
    # Downloaded is done: the same assignment is not offered again (no loop).
    assert "deploymentBase" not in links_of(ddi_client, "dev-1")
    # Feedback on it is over.
    gone = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "success"))
    assert gone.status_code == 410


def test_swupdates_skip_closes_a_download_only_update_without_installing(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    software = make_software("2.0.0")
    services.device_assign_software(
        device=device, software=software, options=DeploymentOptions(action_type="downloadonly")
    )
    action = Action.objects.get(device=device)

    response = post_feedback(
        ddi_client, "dev-1", action.pk, feedback_body("closed", "success", ["Skipped Update."])
    )

    assert response.status_code == 200
    action.refresh_from_db()
    device.refresh_from_db()
    assert action.status == Action.Status.FINISHED
    assert (device.sw_version, device.installed_action_id, device.state) == ("1.0.0", None, "registered")


def test_after_a_download_only_update_a_forced_assignment_installs(ddi_client):
    device = known_device("dev-1", sw_version="1.0.0")
    software = make_software("2.0.0")
    services.device_assign_software(
        device=device, software=software, options=DeploymentOptions(action_type="downloadonly")
    )
    first = Action.objects.get(device=device)
    post_feedback(ddi_client, "dev-1", first.pk, feedback_body("downloaded", "success"))

    services.device_assign_software(device=device, software=software)

    second = Action.objects.get(device=device, status=Action.Status.PENDING)
    assert second.action_type == Action.ActionType.FORCED
    assert _deployment(ddi_client, second)["update"] == "forced"


def test_a_skip_outside_the_window_keeps_the_update_open_until_the_window_opens(ddi_client, monkeypatch):
    device = known_device("dev-1", sw_version="1.0.0")
    software = make_software("2.0.0")
    _at(monkeypatch, DAY.replace(hour=2))
    window = deployment_options_validate(
        maintenance_window={"schedule": "0 0 3 ? * *", "duration": "01:00:00", "timezone": "+00:00"}
    )
    services.device_assign_software(device=device, software=software, options=window)
    action = Action.objects.get(device=device)
    skip = feedback_body("closed", "success", ["Skipped Update."])

    # What SWUpdate does on every poll while the window is closed.
    assert _deployment(ddi_client, action)["update"] == "skip"
    assert post_feedback(ddi_client, "dev-1", action.pk, skip).status_code == 200
    stored = action.statuses.count()
    assert _deployment(ddi_client, action)["update"] == "skip"
    assert post_feedback(ddi_client, "dev-1", action.pk, skip).status_code == 200

    action.refresh_from_db()
    assert action.status == Action.Status.RUNNING
    # The repeated skip stored nothing new but the retrieval of the deployment.
    assert action.statuses.count() == stored + 1
    note = action.statuses.filter(source="server", execution="scheduled").get().details
    assert note == [
        "Update Server: the device skipped the update outside its maintenance window; it stays open "
        "and is offered again when the window opens: 2027-03-10 03:00:00 UTC"
    ]

    _at(monkeypatch, DAY.replace(hour=3, minute=5))
    assert _deployment(ddi_client, action)["update"] == "forced"
    for execution, finished in (("proceeding", "none"), ("closed", "success")):
        response = post_feedback(ddi_client, "dev-1", action.pk, feedback_body(execution, finished))
        assert response.status_code == 200

    action.refresh_from_db()
    device.refresh_from_db()
    assert action.status == Action.Status.FINISHED
    assert (device.sw_version, device.installed_action_id) == ("2.0.0", action.pk)


def test_an_update_installed_in_its_window_finishes_when_confirmed_after_it_closed(ddi_client, monkeypatch):
    action = _action(**NIGHTLY)
    _at(monkeypatch, DAY.replace(hour=3, minute=30))
    installed = feedback_body("proceeding", "none", ["All Chunks Installed."])
    post_feedback(ddi_client, "dev-1", action.pk, installed)

    _at(monkeypatch, DAY.replace(hour=5))  # rebooted after the window closed
    response = post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "success"))

    assert response.status_code == 200
    action.refresh_from_db()
    assert action.status == Action.Status.FINISHED


def test_a_failure_outside_the_window_still_fails_the_update(ddi_client):
    action = _action(**closed_window())

    post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "failure"))

    action.refresh_from_db()
    assert action.status == Action.Status.ERROR


def test_an_update_whose_schedule_lapsed_is_canceled(ddi_client, monkeypatch):
    # One window only, on 2027-03-10 03:00-04:00 UTC.
    action = _action(**{**NIGHTLY, "maintenance_schedule": "0 0 3 10 3 ? 2027"})
    _at(monkeypatch, DAY.replace(hour=2))
    assert "deploymentBase" in links_of(ddi_client, "dev-1")

    _at(monkeypatch, DAY.replace(hour=4))
    links = links_of(ddi_client, "dev-1")

    action.refresh_from_db()
    assert "deploymentBase" not in links
    assert action.status == Action.Status.CANCELED  # never retrieved: canceled at once
    note = action.statuses.filter(source="server").last()
    assert note is not None
    assert note.details == [
        "Update Server: its maintenance schedule has no window left (never started: canceled directly)"
    ]


def test_a_started_update_whose_schedule_lapsed_is_canceled_through_the_device(ddi_client, monkeypatch):
    action = _action(**{**NIGHTLY, "maintenance_schedule": "0 0 3 10 3 ? 2027"}, status="running")
    _at(monkeypatch, DAY.replace(hour=4))

    links = links_of(ddi_client, "dev-1")

    assert set(links) == {"cancelAction"}
    action.refresh_from_db()
    assert action.status == Action.Status.CANCELING


def _sleep(client) -> str:
    return poll(client, "dev-1")["config"]["polling"]["sleep"]


@pytest.mark.parametrize(
    ("now", "sleep"),
    [
        # Daily window at 03:00 UTC, polling time 00:01:00, three polls before the window:
        (DAY.replace(hour=1), "00:01:00"),  # two hours away: the regular interval
        (DAY.replace(hour=2, minute=57), "00:01:00"),  # 3 min / 3 = exactly the regular one
        (DAY.replace(hour=2, minute=58), "00:00:40"),  # 2 min / 3
        (DAY.replace(hour=2, minute=59, second=30), "00:00:30"),  # 10 s, but never below 30 s
        (DAY.replace(hour=3, minute=30), "00:01:00"),  # open: the regular interval
    ],
)
def test_a_device_polls_more_often_as_its_maintenance_window_nears(ddi_client, monkeypatch, now, sleep):
    _action(**NIGHTLY)
    _at(monkeypatch, now)
    assert _sleep(ddi_client) == sleep


def test_the_maintenance_window_poll_count_is_a_runtime_tenant_setting(ddi_client, monkeypatch):
    from devices import services as device_services

    _action(**NIGHTLY)
    _at(monkeypatch, DAY.replace(hour=2, minute=55))
    device_services.tenant_setting_set(key="maintenanceWindowPollCount", value=5)
    assert _sleep(ddi_client) == "00:01:00"  # 5 min / 5
    device_services.tenant_setting_set(key="maintenanceWindowPollCount", value=10)
    assert _sleep(ddi_client) == "00:00:30"  # 5 min / 10


def test_a_device_without_a_window_keeps_the_regular_polling_time(ddi_client):
    _action()
    assert _sleep(ddi_client) == "00:01:00"


@pytest.mark.parametrize("value", [0, 101, "3.5", True, None, "x"])
def test_the_poll_count_refuses_what_is_not_a_count(value):
    from devices import services as device_services
    from goosebit_project.lib.errors import InvalidInput

    with pytest.raises(InvalidInput, match="maintenanceWindowPollCount must be a whole number"):
        device_services.tenant_setting_set(key="maintenanceWindowPollCount", value=value)


@pytest.mark.parametrize(
    ("seconds_after_opening", "status"),
    [(5, Action.Status.RUNNING), (59, Action.Status.RUNNING), (120, Action.Status.FINISHED)],
)
def test_a_skip_that_arrives_just_after_the_window_opened_is_still_a_skip(
    ddi_client, monkeypatch, seconds_after_opening, status
):
    # SWUpdate fetched the deployment (update: skip) a moment before the window opened and
    # reports "Skipped Update." a moment after: it installed nothing, so the update stays open.
    device = known_device("dev-1", sw_version="1.0.0")
    _at(monkeypatch, DAY.replace(hour=2, minute=59, second=59))
    window = deployment_options_validate(
        maintenance_window={"schedule": "0 0 3 ? * *", "duration": "01:00:00", "timezone": "+00:00"}
    )
    services.device_assign_software(device=device, software=make_software("2.0.0"), options=window)
    action = Action.objects.get(device=device)
    assert _deployment(ddi_client, action)["update"] == "skip"

    _at(monkeypatch, DAY.replace(hour=3) + timedelta(seconds=seconds_after_opening))
    skip = feedback_body("closed", "success", ["Skipped Update."])
    assert post_feedback(ddi_client, "dev-1", action.pk, skip).status_code == 200

    action.refresh_from_db()
    assert action.status == status
    if status == Action.Status.RUNNING:
        assert _deployment(ddi_client, action)["update"] == "forced"
