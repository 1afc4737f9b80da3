"""Reads behind the dashboard and the device list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from devices import selectors
from devices.models import Device
from rollouts import selectors as rollout_selectors
from rollouts.models import Action, ActionStatus, Rollout
from tests.factories import make_action, make_device, make_hardware, make_rollout, make_software

pytestmark = pytest.mark.django_db


def _fleet():
    """Devices in every mode and corner the update policy knows."""
    rpi, imx, bare = make_hardware("rpi4", "1"), make_hardware("imx8", "B"), make_hardware("bare", "0")
    old = make_software("1.0.0", compatibility=[rpi])
    new = make_software("1.10.0", compatibility=[rpi, imx])
    make_software("1.9.0", compatibility=[rpi])
    imx_only = make_software("3.0.0", compatibility=[imx])
    make_rollout(old, feed="stable")
    make_rollout(new, feed="stable")  # newer: owns stable for rpi and imx
    make_rollout(imx_only, feed="beta", status=Rollout.Status.PAUSED)  # holds beta for imx
    make_rollout(old, feed="beta")  # older, for rpi only
    make_rollout(new, feed="draft", status=Rollout.Status.DRAFT)
    # Created first but started last: it took the feed last, so it owns it.
    now = timezone.now()
    make_rollout(old, feed="late", started_at=now)
    make_rollout(new, feed="late", started_at=now - timedelta(hours=1))
    make_device("stable-rpi", hardware=rpi, feed="stable")
    make_device("stable-imx", hardware=imx, feed="stable")
    make_device("stable-bare", hardware=bare, feed="stable")
    make_device("beta-imx", hardware=imx, feed="beta")
    make_device("beta-rpi", hardware=rpi, feed="beta")
    make_device("draft-rpi", hardware=rpi, feed="draft")
    make_device("late-rpi", hardware=rpi, feed="late")
    make_device("no-feed", hardware=rpi, feed="")
    make_device("latest-rpi", hardware=rpi, update_mode="latest")
    make_device("latest-bare", hardware=bare, update_mode="latest")
    make_device("assigned", hardware=rpi, update_mode="assigned", assigned_software=old)
    make_device("assigned-none", hardware=rpi, update_mode="assigned")
    make_device("pinned", hardware=rpi, update_mode="pinned", assigned_software=old)
    make_device("no-hardware", update_mode="assigned", assigned_software=old)
    Device.objects.filter(controller_id="no-hardware").update(hardware=None)


def _key(target):
    if target is None:
        return None
    return (target.software.pk, target.reason, target.rollout.pk if target.rollout else None)


def test_targets_for_devices_agrees_with_target_for_device(django_assert_max_num_queries):
    _fleet()
    devices = list(Device.objects.select_related("assigned_software").order_by("controller_id"))

    # Latest, rollouts (+ their groups, prefetched), and (cold per-worker cache) the active
    # auto-assignments.
    with django_assert_max_num_queries(4):
        bulk = rollout_selectors.targets_for_devices(devices=devices)

    one_by_one = {device.pk: _key(rollout_selectors.target_for_device(device=device)) for device in devices}
    assert {pk: _key(target) for pk, target in bulk.items()} == one_by_one
    # The fleet really exercises every branch: some targets from each source, and some none.
    reasons = {key[1] if key else None for key in one_by_one.values()}
    assert reasons == {"rollout", "latest", "assigned", None}


def test_presence_counts_use_the_poll_interval(settings):
    settings.GOOSEBIT_POLL_TIME = "00:01:00"
    settings.GOOSEBIT_LAST_SEEN_INTERVAL = 25
    settings.GOOSEBIT_LAST_SEEN_FLUSH_SECONDS = 5
    now = timezone.now()
    make_device("fresh", last_seen=now - timedelta(seconds=99))
    make_device("late", last_seen=now - timedelta(seconds=101))
    make_device("never")

    assert selectors.overdue_after() == timedelta(seconds=100)
    assert selectors.device_presence_counts(now=now) == selectors.Presence(online=1, overdue=1, never_seen=1)
    for presence, expected in [("online", ["fresh"]), ("overdue", ["late"]), ("never", ["never"])]:
        found = selectors.devices_with_presence(devices=Device.objects.all(), presence=presence, now=now)
        assert list(found.values_list("controller_id", flat=True)) == expected


def test_state_counts_list_every_state():
    make_device("a", state=Device.State.ERROR)
    make_device("b", state=Device.State.ERROR)
    make_device("c", state=Device.State.RUNNING)

    assert selectors.device_state_counts() == {
        "unknown": 0,
        "registered": 0,
        "pending": 0,
        "wait_for_confirmation": 0,
        "running": 1,
        "finished": 0,
        "error": 2,
        "canceling": 0,
        "rolled_back": 0,
    }


def test_recent_failures_come_newest_first_with_the_last_message():
    software = make_software("2.0.0")
    now = timezone.now()
    older = make_action(make_device("a"), software, status="error", finished_at=now - timedelta(hours=2))
    newer = make_action(make_device("b"), software, status="error", finished_at=now)
    make_action(make_device("c"), software, status="finished", finished_at=now)
    ActionStatus.objects.create(action=newer, execution="proceeding", details=["working"])
    ActionStatus.objects.create(action=newer, execution="closed", finished="failure", details=["disk full"])

    failures = rollout_selectors.action_failures_recent()

    assert [action.pk for action in failures] == [newer.pk, older.pk]
    # last_details is annotated by the selector's queryset, which the stubs cannot follow.
    assert [action.last_details for action in failures] == [["disk full"], None]  # type: ignore[attr-defined]


def test_updates_per_day_counts_finished_and_failed_per_local_day(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    software = make_software("2.0.0")
    device = make_device("a")
    now = timezone.now()
    make_action(device, software, status="finished", finished_at=now)
    make_action(device, software, status="error", finished_at=now)
    make_action(device, software, status="finished", finished_at=now - timedelta(days=2))
    make_action(device, software, status="finished", finished_at=now - timedelta(days=30))
    make_action(device, software, status="canceled", finished_at=now)

    days = rollout_selectors.updates_per_day(days=3, now=now)

    today = timezone.localdate(now)
    assert [(day.day, day.finished, day.failed) for day in days] == [
        (today - timedelta(days=2), 1, 0),
        (today - timedelta(days=1), 0, 0),
        (today, 1, 1),
    ]


def test_software_compatible_with_all_needs_every_board():
    rpi, imx = make_hardware("rpi4", "1"), make_hardware("imx8", "B")
    both = make_software("1.0.0", compatibility=[rpi, imx])
    both_newer = make_software("1.10.0", compatibility=[rpi, imx])
    make_software("9.0.0", compatibility=[rpi])
    make_device("rpi-1", hardware=rpi)
    make_device("imx-1", hardware=imx)

    assert rollout_selectors.software_compatible_with_all(devices=Device.objects.all()) == [both_newer, both]

    make_device("new")
    Device.objects.filter(controller_id="new").update(hardware=None)
    # A device without reported hardware constrains nothing: the known boards decide.
    assert rollout_selectors.software_compatible_with_all(devices=Device.objects.all()) == [both_newer, both]
    only_new = Device.objects.filter(controller_id="new")
    assert [s.version for s in rollout_selectors.software_compatible_with_all(devices=only_new)] == [
        "9.0.0",
        "1.10.0",
        "1.0.0",
    ]
    assert rollout_selectors.software_compatible_with_all(devices=Device.objects.none()) == []


def test_each_rollout_bucket_filter_selects_exactly_the_devices_rollout_stats_counts():
    rpi, imx = make_hardware("rpi4", "1"), make_hardware("imx8", "B")
    software = make_software("2.0.0", compatibility=[rpi])
    rollout = make_rollout(software)
    outcomes = {
        "succeeded": [Action.Status.ERROR, Action.Status.FINISHED],  # retried: counts by the newest
        "rolled_back": [Action.Status.FINISHED],  # succeeded, then reported an older version
        "failed": [Action.Status.ERROR],
        "running": [Action.Status.CANCELING],  # a cancel under way still counts as running
        "pending": [Action.Status.PENDING],
        "canceled": [Action.Status.CANCELED],
    }
    for bucket, statuses in outcomes.items():
        device = make_device(bucket, hardware=rpi, sw_version="2.0.0" if bucket == "succeeded" else "1.0")
        for status in statuses:
            make_action(device, software, rollout=rollout, status=status, reason="rollout")
    make_device("already", hardware=rpi, sw_version="2.0")
    make_device("waiting", hardware=rpi, sw_version="1.0")
    moved = make_device("moved", hardware=rpi, feed="other")
    make_action(moved, software, rollout=rollout, status=Action.Status.FINISHED, reason="rollout")
    make_device("other-board", hardware=imx)

    stats = rollout_selectors.rollout_stats(rollout=rollout)

    def ids(bucket=None):
        found = rollout_selectors.devices_in_rollout(
            devices=Device.objects.all(), rollout=rollout, bucket=bucket
        )
        return sorted(found.values_list("controller_id", flat=True))

    for bucket in rollout_selectors.ROLLOUT_BUCKETS:
        assert len(ids(bucket)) == getattr(stats, bucket), bucket
    assert ids() == sorted(
        ["succeeded", "rolled_back", "failed", "running", "pending", "canceled", "already", "waiting"]
    )
    assert (
        ids("already_on_version"),
        ids("not_started"),
        ids("left"),
        ids("succeeded"),
        ids("rolled_back"),
    ) == (
        ["already"],
        ["waiting"],
        ["moved"],
        ["succeeded"],
        ["rolled_back"],
    )
    with pytest.raises(ValueError, match="unknown rollout bucket 'exploded'"):
        rollout_selectors.devices_in_rollout(devices=Device.objects.all(), rollout=rollout, bucket="exploded")


def test_devices_with_failures_now_ever_never():
    software = make_software("2.0.0")
    now_failed = make_device("now", state=Device.State.ERROR)
    once = make_device("once", state=Device.State.FINISHED)
    make_device("never")
    make_action(now_failed, software, status=Action.Status.ERROR)
    make_action(once, software, status=Action.Status.ERROR)

    def ids(failed):
        found = rollout_selectors.devices_with_failures(
            devices=Device.objects.order_by("controller_id"), failed=failed
        )
        return list(found.values_list("controller_id", flat=True))

    assert (ids("now"), ids("ever"), ids("never")) == (["now"], ["now", "once"], ["never"])


def test_rollouts_active_lists_running_and_paused_rollouts_with_their_statistics():
    software = make_software("2.0.0")
    running = make_rollout(software, name="running")
    make_rollout(software, name="done", feed="old", status=Rollout.Status.FINISHED)
    paused = make_rollout(make_software("3.0.0"), name="paused", feed="beta", status=Rollout.Status.PAUSED)
    make_device("a", sw_version="1.0")
    make_device("b", sw_version="2.0.0")

    active = rollout_selectors.rollouts_active()

    assert [(rollout, stats.targeted, stats.already_on_version) for rollout, stats in active] == [
        (paused, 0, 0),
        (running, 2, 1),
    ]


def test_a_held_rollouts_target_is_shown_but_never_delivered():
    board = make_hardware("rpi4", "1.2")
    rollout = make_rollout(make_software("1.2.0", compatibility=[board]), status=Rollout.Status.STOPPED)
    device = make_device("rpi-1", hardware=board)

    assert rollout_selectors.target_for_device(device=device) is None
    assert rollout_selectors.targets_for_devices(devices=[device]) == {device.pk: None}
    shown = rollout_selectors.target_for_device(device=device, include_held=True)
    assert shown is not None
    assert (shown.software, shown.rollout, shown.held) == (rollout.software, rollout, True)
    bulk = rollout_selectors.targets_for_devices(devices=[device], include_held=True)[device.pk]
    assert bulk is not None
    assert (bulk.software, bulk.rollout, bulk.held) == (rollout.software, rollout, True)
