"""Rollout statistics are aggregates over actions: every targeted device counted once, exactly."""

from __future__ import annotations

import pytest

from devices.models import Device
from rollouts import selectors, services
from rollouts.models import Action, Rollout
from tests.factories import make_action, make_device, make_hardware, make_rollout, make_software
from tests.rollouts.ddi_helpers import feedback, install, offered_action_id, poll

pytestmark = pytest.mark.django_db


def stats(rollout: Rollout) -> dict[str, int]:
    return selectors.rollout_stats(
        rollout=Rollout.objects.select_related("software").get(pk=rollout.pk)
    ).as_dict()


def test_a_rollout_without_devices_has_all_zero_statistics():
    rollout = make_rollout(make_software("2.0.0"))
    assert stats(rollout) == {
        "targeted": 0,
        "not_started": 0,
        "pending": 0,
        "running": 0,
        "succeeded": 0,
        "failed": 0,
        "canceled": 0,
        "rolled_back": 0,
        "already_on_version": 0,
        "left": 0,
        "progress_percent": 0,
    }


def test_every_targeted_device_lands_in_exactly_one_bucket(client):
    software = make_software("2.0.0")
    rollout = make_rollout(software)
    for cid in ("idle", "pending", "running", "canceling", "ok", "failed", "canceled"):
        make_device(cid, sw_version="1.0.0")
    make_device("on-version", sw_version="2.0")  # equal by version semantics: nothing to do
    # Not targeted: another feed, another mode, a board the software does not fit, no hardware.
    make_device("other-feed", feed="beta", sw_version="1.0.0")
    make_device("latest-mode", update_mode=Device.UpdateMode.LATEST, sw_version="1.0.0")
    make_device("other-board", hardware=make_hardware("other"), sw_version="1.0.0")
    Device.objects.create(controller_id="no-hardware", state=Device.State.REGISTERED)

    poll(client, "pending")
    running = offered_action_id(client, "running")
    assert running is not None
    feedback(client, "running", running, "proceeding")
    canceling = offered_action_id(client, "canceling")
    assert canceling is not None
    feedback(client, "canceling", canceling, "proceeding")
    services.device_cancel_update(device=Device.objects.get(controller_id="canceling"))
    install(client, "ok")
    install(client, "failed", finished="failure")
    poll(client, "canceled")
    services.device_cancel_update(device=Device.objects.get(controller_id="canceled"))

    assert stats(rollout) == {
        "targeted": 8,
        "not_started": 1,
        "pending": 1,
        "running": 2,  # one installing, one being canceled (it has not confirmed yet)
        "succeeded": 1,
        "failed": 1,
        "canceled": 1,
        "rolled_back": 0,
        "already_on_version": 1,
        "left": 0,
        "progress_percent": 25,  # 2 of 8 run 2.0.0
    }


def test_a_device_that_failed_and_retried_counts_once_by_its_newest_action(client):
    rollout = make_rollout(make_software("2.0.0"))
    device = make_device("a", sw_version="1.0.0")
    make_device("b", sw_version="1.0.0")

    install(client, "a", finished="failure")
    assert (stats(rollout)["failed"], stats(rollout)["targeted"]) == (1, 2)

    services.device_retry(device=device)
    poll(client, "a")
    after_retry = stats(rollout)
    assert (after_retry["failed"], after_retry["pending"], after_retry["targeted"]) == (0, 1, 2)

    install(client, "a")
    final = stats(rollout)
    assert (final["failed"], final["pending"], final["succeeded"], final["not_started"]) == (0, 0, 1, 1)
    assert final["progress_percent"] == 50
    assert Action.objects.filter(device=device, rollout=rollout).count() == 2


def test_a_canceled_then_retried_device_counts_by_its_retry(client):
    rollout = make_rollout(make_software("2.0.0"))
    device = make_device("a", sw_version="1.0.0")
    poll(client, "a")
    services.device_cancel_update(device=device)
    assert stats(rollout)["canceled"] == 1

    services.device_retry(device=Device.objects.get(pk=device.pk))
    install(client, "a")

    after = stats(rollout)
    assert (after["canceled"], after["succeeded"], after["targeted"], after["progress_percent"]) == (
        0,
        1,
        1,
        100,
    )


def test_devices_that_left_the_feed_are_reported_apart_from_the_targeted_ones(client):
    rollout = make_rollout(make_software("2.0.0"))
    mover = make_device("mover", sw_version="1.0.0")
    make_device("stayer", sw_version="1.0.0")
    install(client, "mover")
    install(client, "stayer", finished="failure")

    services.device_set_feed(device=Device.objects.get(pk=mover.pk), feed="beta")

    after = stats(rollout)
    assert (after["targeted"], after["succeeded"], after["failed"], after["left"]) == (1, 0, 1, 1)


def test_actions_of_other_rollouts_and_modes_do_not_count():
    software = make_software("2.0.0")
    rollout = make_rollout(software)
    other = make_rollout(software, feed="beta", status=Rollout.Status.PAUSED)
    device = make_device("a", sw_version="1.0.0")
    make_action(device, software, status=Action.Status.ERROR)  # assigned mode, no rollout
    make_action(device, software, rollout=other, status=Action.Status.ERROR)

    after = stats(rollout)
    assert (after["targeted"], after["not_started"], after["failed"], after["left"]) == (1, 1, 0, 0)


def test_statistics_cost_two_queries_whatever_the_fleet_size(django_assert_num_queries):
    software = make_software("2.0.0")
    rollout = make_rollout(software)
    statuses = [Action.Status.PENDING, Action.Status.RUNNING, Action.Status.FINISHED, Action.Status.ERROR]

    def grow(count: int) -> None:
        for index in range(count):
            status = statuses[index % len(statuses)]
            # A device whose update succeeded reports the version it installed (older: rolled back).
            device = make_device(sw_version="2.0.0" if status == Action.Status.FINISHED else "1.0.0")
            if status in Action.ACTIVE_STATUSES:
                make_action(device, software, rollout=rollout, status=Action.Status.ERROR)
            make_action(device, software, rollout=rollout, status=status)
        make_device(sw_version="2.0.0")
        make_device(sw_version="0.9")

    grow(4)
    rollout = Rollout.objects.select_related("software").get(pk=rollout.pk)
    selectors.conditional_holders()  # this worker's list of rollouts with a query, read once
    with django_assert_num_queries(2):
        small = selectors.rollout_stats(rollout=rollout)
    grow(40)
    with django_assert_num_queries(2):
        large = selectors.rollout_stats(rollout=rollout)

    assert (small.targeted, small.pending, small.running, small.failed, small.already_on_version) == (
        6,
        1,
        1,
        1,
        1,
    )
    assert (large.targeted, large.pending, large.succeeded, large.failed, large.not_started) == (
        48,
        11,
        11,
        11,
        2,
    )


def test_statistics_agree_with_the_safety_counters_while_no_device_left(client):
    rollout = make_rollout(make_software("2.0.0"))
    for cid in ("a", "b", "c"):
        make_device(cid, sw_version="1.0.0")
    install(client, "a")
    install(client, "b", finished="failure")
    install(client, "c", finished="failure")
    services.device_retry(device=Device.objects.get(controller_id="c"))
    install(client, "c")

    results = selectors.rollout_results(rollout=rollout)
    after = stats(rollout)
    assert (results.succeeded, results.failed) == (after["succeeded"], after["failed"]) == (2, 1)


def test_preview_counts_reachable_devices_by_hardware_and_those_already_on_the_version():
    board_a, board_b, board_c = make_hardware("a", "1"), make_hardware("b", "2"), make_hardware("c", "1")
    software = make_software("2.0.0", compatibility=[board_a, board_b])
    make_device(hardware=board_a, sw_version="1.0.0")
    make_device(hardware=board_a, sw_version="2.0")
    make_device(hardware=board_b, sw_version="1.0.0")
    make_device(hardware=board_c, sw_version="1.0.0")  # incompatible
    Device.objects.create(controller_id="no-hardware", feed="default")  # incompatible: unknown board
    make_device(hardware=board_a, update_mode=Device.UpdateMode.PINNED)  # not following the feed
    make_device(hardware=board_a, feed="beta")  # another feed: not counted at all

    preview = selectors.rollout_preview(feed="default", software=software)

    assert preview.as_dict() == {
        "feed": "default",
        "software": software.pk,
        "version": "2.0.0",
        "devices": 3,
        "already_on_version": 1,
        "to_update": 2,
        "incompatible": 2,
        "not_following": 1,
        "by_hardware": [
            {"hardware": board_a.pk, "model": "a", "revision": "1", "devices": 2, "already_on_version": 1},
            {"hardware": board_b.pk, "model": "b", "revision": "2", "devices": 1, "already_on_version": 0},
        ],
    }


def test_preview_costs_two_queries_whatever_the_fleet_size(django_assert_num_queries):
    software = make_software("2.0.0")
    for _ in range(30):
        make_device(sw_version="1.0.0")
    with django_assert_num_queries(2):
        preview = selectors.rollout_preview(feed="default", software=software)
    assert preview.devices == 30


def test_preview_matches_what_the_started_rollout_then_targets():
    software = make_software("2.0.0")
    make_device(sw_version="1.0.0")
    make_device(sw_version="2.0.0")
    make_device(hardware=make_hardware("other"))
    preview = selectors.rollout_preview(feed="default", software=software)

    rollout = services.rollout_create(name="r", feed="default", software=software, start=True)

    after = stats(rollout)
    assert (after["targeted"], after["already_on_version"]) == (preview.devices, preview.already_on_version)
