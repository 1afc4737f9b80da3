"""Rollout safety: automatic pause at the failure thresholds, and the concurrency caps."""

from __future__ import annotations

from typing import Any

import pytest

from devices.models import Device
from rollouts import selectors, services
from rollouts.models import Action, Rollout
from tests.factories import make_device, make_rollout, make_software
from tests.rollouts.ddi_helpers import feedback, install, offered_action_id, poll

pytestmark = pytest.mark.django_db


def status(rollout: Rollout) -> str:
    return Rollout.objects.get(pk=rollout.pk).status


def fleet(count: int) -> list[str]:
    cids = [f"dev-{index}" for index in range(count)]
    for cid in cids:
        make_device(cid, sw_version="1.0.0")
    return cids


# --- thresholds ------------------------------------------------------------------------------


def test_the_percentage_rule_pauses_exactly_at_the_threshold(client):
    rollout = make_rollout(make_software("2.0.0"), pause_on_failure_percent=40, pause_min_results=5)
    cids = fleet(6)
    for cid in cids[:3]:
        install(client, cid)
    install(client, cids[3], finished="failure")
    assert status(rollout) == Rollout.Status.RUNNING  # 1 of 4: fewer results than the minimum

    install(client, cids[4], finished="failure")  # 2 of 5 = 40 %

    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.PAUSED
    assert rollout.pause_reason == (
        "Paused automatically: 2 of 5 finished devices failed (40%), reaching the limit of 40%"
    )
    assert rollout.paused_at is not None
    assert poll(client, cids[5]) == {}


def test_the_percentage_rule_keeps_running_one_failure_below_the_threshold(client):
    rollout = make_rollout(make_software("2.0.0"), pause_on_failure_percent=40, pause_min_results=5)
    cids = fleet(6)
    for cid in cids[:4]:
        install(client, cid)
    install(client, cids[4], finished="failure")  # 1 of 5 = 20 %

    assert status(rollout) == Rollout.Status.RUNNING
    assert offered_action_id(client, cids[5]) is not None


def test_the_count_rule_pauses_at_the_nth_failed_device_and_not_before(client):
    rollout = make_rollout(make_software("2.0.0"), pause_on_failure_count=3)
    cids = fleet(4)
    install(client, cids[0], finished="failure")
    install(client, cids[1], finished="failure")
    assert status(rollout) == Rollout.Status.RUNNING

    install(client, cids[2], finished="failure")

    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.PAUSED
    assert rollout.pause_reason == "Paused automatically: 3 devices failed, reaching the limit of 3"


def test_a_device_failing_again_after_a_retry_is_one_failed_device(client):
    rollout = make_rollout(make_software("2.0.0"), pause_on_failure_count=2)
    device = make_device("flaky", sw_version="1.0.0")
    install(client, "flaky", finished="failure")
    services.device_retry(device=Device.objects.get(pk=device.pk))
    install(client, "flaky", finished="failure")

    assert status(rollout) == Rollout.Status.RUNNING
    assert selectors.rollout_results(rollout=rollout).failed == 1
    assert Action.objects.filter(device=device, status=Action.Status.ERROR).count() == 2


def test_canceled_devices_are_not_failures(client):
    rollout = make_rollout(make_software("2.0.0"), pause_on_failure_percent=1, pause_min_results=1)
    fleet(2)
    poll(client, "dev-0")
    services.device_cancel_update(device=Device.objects.get(controller_id="dev-0"))
    install(client, "dev-1")
    assert status(rollout) == Rollout.Status.RUNNING
    assert selectors.rollout_stats(rollout=rollout).canceled == 1


def test_after_an_automatic_pause_a_resume_runs_until_the_next_failure(client):
    rollout = make_rollout(make_software("2.0.0"), pause_on_failure_count=1)
    cids = fleet(3)
    install(client, cids[0], finished="failure")
    assert status(rollout) == Rollout.Status.PAUSED

    services.rollout_resume(rollout=rollout)
    assert Rollout.objects.get(pk=rollout.pk).pause_reason == ""
    install(client, cids[1])
    assert status(rollout) == Rollout.Status.RUNNING
    install(client, cids[2], finished="failure")

    assert status(rollout) == Rollout.Status.PAUSED


def test_raising_the_threshold_lets_a_resumed_rollout_carry_on_past_accepted_failures(client):
    rollout = make_rollout(make_software("2.0.0"), pause_on_failure_count=1)
    cids = fleet(3)
    install(client, cids[0], finished="failure")
    services.rollout_update(rollout=rollout, pause_on_failure_count=3)
    services.rollout_resume(rollout=rollout)

    install(client, cids[1], finished="failure")

    assert status(rollout) == Rollout.Status.RUNNING


def test_a_rollout_that_auto_paused_offers_nothing_to_newly_polling_devices_over_ddi(client):
    software = make_software("2.0.0")
    rollout = services.rollout_create(
        name="canary",
        feed="default",
        software=software,
        start=True,
        pause_on_failure_percent=50,
        pause_min_results=2,
        pause_on_failure_count=None,
    )
    cids = fleet(5)
    actions: dict[str, Any] = {cid: offered_action_id(client, cid) for cid in cids[:3]}
    for cid in cids[:3]:
        assert client.get(f"/DEFAULT/controller/v1/{cid}/deploymentBase/{actions[cid]}").status_code == 200
        assert feedback(client, cid, actions[cid], "proceeding") == 200

    assert feedback(client, cids[0], actions[cids[0]], "closed", "failure") == 200
    assert status(rollout) == Rollout.Status.RUNNING
    assert feedback(client, cids[1], actions[cids[1]], "closed", "failure") == 200
    assert status(rollout) == Rollout.Status.PAUSED

    # Newcomers get nothing; the device already installing may finish.
    assert poll(client, cids[3]) == {}
    assert poll(client, cids[4]) == {}
    assert "deploymentBase" in poll(client, cids[2])
    assert feedback(client, cids[2], actions[cids[2]], "closed", "success") == 200
    assert not Action.objects.filter(device__controller_id__in=cids[3:]).exists()
    assert selectors.rollout_stats(rollout=rollout).as_dict() == {
        "targeted": 5,
        "not_started": 2,
        "pending": 0,
        "running": 0,
        "succeeded": 1,
        "failed": 2,
        "canceled": 0,
        "rolled_back": 0,
        "already_on_version": 0,
        "left": 0,
        "progress_percent": 20,
    }


# --- caps ------------------------------------------------------------------------------------


def test_max_parallel_caps_the_devices_of_one_rollout_updating_at_once(client):
    rollout = make_rollout(make_software("2.0.0"), max_parallel=2)
    cids = fleet(4)
    offered: dict[str, Any] = {cid: offered_action_id(client, cid) for cid in cids}
    assert [cid for cid, action in offered.items() if action] == cids[:2]

    # A slot frees when an update closes; the next device to poll takes it.
    assert feedback(client, cids[0], offered[cids[0]], "closed", "success") == 200
    assert offered_action_id(client, cids[3]) is not None
    assert offered_action_id(client, cids[2]) is None
    assert selectors.active_update_count(rollout=rollout) == 2


def test_max_parallel_counts_only_its_own_rollout(client):
    software = make_software("2.0.0")
    make_rollout(software, max_parallel=1)
    make_rollout(software, feed="beta", max_parallel=1)
    make_device("a", sw_version="1.0.0")
    make_device("b", sw_version="1.0.0", feed="beta")
    assert offered_action_id(client, "a") is not None
    assert offered_action_id(client, "b") is not None


def test_the_global_cap_limits_updates_across_rollouts_and_modes(client, settings):
    settings.GOOSEBIT_MAX_CONCURRENT_UPDATES = 2
    software = make_software("2.0.0")
    make_rollout(software)
    make_rollout(software, feed="beta")
    make_device("a", sw_version="1.0.0")
    make_device("b", sw_version="1.0.0", feed="beta")
    follows_latest = make_device("c", sw_version="1.0.0", update_mode=Device.UpdateMode.LATEST)

    assert offered_action_id(client, "a") is not None
    assert offered_action_id(client, "b") is not None
    assert offered_action_id(client, "c") is None
    assert not Action.objects.filter(device=follows_latest).exists()

    install(client, "a")
    assert offered_action_id(client, "c") is not None


def test_an_explicit_assignment_is_not_held_back_by_the_global_cap(client, settings):
    settings.GOOSEBIT_MAX_CONCURRENT_UPDATES = 1
    software = make_software("2.0.0")
    make_rollout(software)
    make_device("a", sw_version="1.0.0")
    assert offered_action_id(client, "a") is not None
    assigned = make_device("c", sw_version="1.0.0", update_mode=Device.UpdateMode.PINNED)

    services.device_assign_software(device=assigned, software=software)

    action = Action.objects.get(device=assigned)
    assert offered_action_id(client, "c") == action.pk


def test_a_device_keeps_its_own_slot_under_the_global_cap(client, settings):
    settings.GOOSEBIT_MAX_CONCURRENT_UPDATES = 1
    make_rollout(make_software("2.0.0"))
    make_device("a", sw_version="1.0.0")
    first = offered_action_id(client, "a")
    assert offered_action_id(client, "a") == first
