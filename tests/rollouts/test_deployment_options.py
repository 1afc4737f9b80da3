"""The deployment options as rules: validation, where actions get them from, weight between
rollouts, and download-only updates in rollout statistics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devices.models import Device
from rollouts import selectors, services
from rollouts.models import Action, Rollout
from rollouts.options import (
    DeploymentOptions,
    InvalidOption,
    MaintenanceWindow,
    deployment_options_validate,
    maintenance_window_validate,
)
from tests.factories import make_device, make_rollout, make_software
from tests.rollouts.ddi_helpers import BASE, feedback, install, offered_action_id

pytestmark = pytest.mark.django_db

THURSDAY = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)


# --- validation and schedules -----------------------------------------------------------------


def test_quartz_numbers_weekdays_from_sunday():
    # Quartz: 1 = Sunday, 2 = Monday; from Thursday the next Monday is 2026-12-07.
    monday = MaintenanceWindow("0 0 12 ? * 2", "00:10:00", "+00:00").window_at(THURSDAY)
    weekdays = MaintenanceWindow("0 0 12 ? * MON-FRI", "00:10:00", "+00:00").window_at(THURSDAY)
    sunday = MaintenanceWindow("0 0 12 ? * 1", "00:10:00", "+00:00").window_at(THURSDAY)

    assert monday is not None and monday.start == datetime(2026, 12, 7, 12, tzinfo=UTC)
    assert weekdays is not None and weekdays.start == datetime(2026, 12, 4, 12, tzinfo=UTC)
    assert sunday is not None and sunday.start == datetime(2026, 12, 6, 12, tzinfo=UTC)


def test_a_seven_field_schedule_with_a_year_and_the_open_window_itself():
    window = MaintenanceWindow("0 30 17 3 12 ? 2026", "01:00:00", "+00:00")

    found = window.window_at(THURSDAY)  # 17:30-18:30 contains 18:00

    assert found is not None and (found.start, found.end) == (
        datetime(2026, 12, 3, 17, 30, tzinfo=UTC),
        datetime(2026, 12, 3, 18, 30, tzinfo=UTC),
    )
    assert window.is_open(THURSDAY)
    assert not window.is_open(datetime(2026, 12, 3, 18, 30, tzinfo=UTC))
    assert window.window_at(datetime(2026, 12, 4, tzinfo=UTC)) is None  # lapsed


@pytest.mark.parametrize(
    ("schedule", "duration", "zone", "message"),
    [
        ("0 30 2 ? * *", "", "+02:00", "maintenance_window needs schedule, duration and timezone together; "
         "duration missing"),
        ("0 30 2 ? * 9", "01:00:00", "+02:00", "day of week 9 is out of range 1-7 (1 is Sunday)"),
        ("0 61 2 ? * *", "01:00:00", "+02:00", "is not a valid Quartz cron expression"),
        ("0 30 2 ? * *", "00:00:00", "+02:00", "must be longer than 00:00:00"),
        ("0 30 2 ? * *", "01:00:00", "+19:00", "must be within ±18:00"),
        ("0 0 0 31 2 ?", "01:00:00", "+00:00", "has no future maintenance window"),
    ],
)  # fmt: skip
def test_bad_windows_are_refused_naming_the_problem(schedule, duration, zone, message):
    with pytest.raises(InvalidOption, match=message.replace("(", r"\(").replace(")", r"\)")):
        maintenance_window_validate(schedule=schedule, duration=duration, timezone_offset=zone, at=THURSDAY)


def test_options_round_trip_through_the_device_row():
    options = deployment_options_validate(
        action_type="timeforced",
        forcetime=datetime(2030, 1, 1, tzinfo=UTC),
        weight=7,
        maintenance_window={"schedule": "0 30 2 ? * *", "duration": "01:00:00", "timezone": "+02:00"},
    )

    assert DeploymentOptions.from_json(options.as_json()) == options
    assert DeploymentOptions.from_json({}) == DeploymentOptions()


# --- where actions get their options ----------------------------------------------------------


def test_an_action_created_after_a_retry_keeps_the_assignments_options(client):
    software = make_software("2.0.0")
    device = make_device("a", sw_version="1.0.0")
    soft = DeploymentOptions(action_type="soft", weight=5)
    services.device_assign_software(device=device, software=software, options=soft)
    install(client, "a", finished="failure")

    services.device_retry(device=Device.objects.get(pk=device.pk))
    retried = offered_action_id(client, "a")

    assert retried is not None
    action = Action.objects.get(pk=retried)
    assert (action.reason, action.action_type, action.weight) == (Action.Reason.FORCED, "soft", 5)


def test_reassigning_an_unstarted_update_replaces_its_options():
    software = make_software("2.0.0")
    device = make_device("a", sw_version="1.0.0")
    services.device_assign_software(device=device, software=software)

    services.device_assign_software(
        device=device, software=software, options=DeploymentOptions(action_type="downloadonly")
    )

    assert list(Action.objects.values_list("status", "action_type")) == [("pending", "downloadonly")]


def test_bulk_assignment_gives_every_action_the_options():
    software = make_software("2.0.0")
    for name in ("a", "b"):
        make_device(name, sw_version="1.0.0")

    services.devices_assign_software(
        devices=Device.objects.all(), software=software, options=DeploymentOptions(action_type="soft")
    )

    assert sorted(Action.objects.values_list("device__controller_id", "action_type")) == [
        ("a", "soft"),
        ("b", "soft"),
    ]


def test_latest_mode_offers_forced():
    make_software("2.0.0")
    device = make_device("a", sw_version="1.0.0", update_mode=Device.UpdateMode.LATEST)

    action = services.device_reconcile(device=device)

    assert action is not None and action.action_type == Action.ActionType.FORCED


def _offered(client) -> int:
    action_id = offered_action_id(client, "a")
    assert action_id is not None
    return action_id


# --- weight between rollouts --------------------------------------------------------------------


def test_the_heavier_rollout_of_a_feed_wins_over_a_newer_one(client):
    heavy = services.rollout_create(
        name="heavy", feed="default", software=make_software("2.0.0"), options=DeploymentOptions(weight=900)
    )
    services.rollout_start(rollout=heavy)
    light = services.rollout_create(
        name="light", feed="default", software=make_software("3.0.0"), options=DeploymentOptions(weight=100)
    )
    services.rollout_start(rollout=light)
    device = make_device("a", sw_version="1.0.0")

    action = Action.objects.get(pk=_offered(client))

    assert (action.rollout_id, action.weight) == (heavy.pk, 900)
    assert selectors.rollout_targeted_devices(rollout=heavy).count() == 1
    assert selectors.rollout_targeted_devices(rollout=light).count() == 0
    target = selectors.targets_for_devices(devices=[device])[device.pk]
    assert target is not None and target.rollout == heavy


def test_without_weights_the_newest_rollout_still_wins(client):
    make_rollout(make_software("2.0.0"), name="old")
    newer = make_rollout(make_software("3.0.0"), name="new")
    make_device("a", sw_version="1.0.0")

    assert Action.objects.get(pk=_offered(client)).rollout_id == newer.pk


def test_no_weight_counts_as_the_heaviest(client):
    unweighted = make_rollout(make_software("2.0.0"), name="unweighted")
    make_rollout(make_software("3.0.0"), name="weighted", weight=1000 - 1)
    make_device("a", sw_version="1.0.0")

    assert Action.objects.get(pk=_offered(client)).rollout_id == unweighted.pk


# --- download-only rollouts -------------------------------------------------------------------


def test_a_download_only_rollout_counts_downloads_as_succeeded_and_finishes(client):
    rollout = services.rollout_create(
        name="prefetch",
        feed="default",
        software=make_software("2.0.0"),
        options=DeploymentOptions(action_type="downloadonly"),
        start=True,
        pause_on_failure_percent=1,
        pause_min_results=1,
    )
    make_device("a", sw_version="1.0.0")
    action_id = offered_action_id(client, "a")
    assert action_id is not None

    assert feedback(client, "a", action_id, "downloaded", "success") == 200

    rollout = Rollout.objects.select_related("software").get(pk=rollout.pk)
    stats = selectors.rollout_stats(rollout=rollout)
    assert (stats.succeeded, stats.failed, stats.rolled_back) == (1, 0, 0)
    assert rollout.status == Rollout.Status.FINISHED
    assert offered_action_id(client, "a") is None
    assert client.get(f"{BASE}/a").status_code == 200
