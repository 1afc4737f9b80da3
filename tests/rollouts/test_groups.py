"""Rollout groups: splitting, conditions at their thresholds, advancing once, pause after a group,
next group by hand, scheduled start, approval, retry, dynamic joiners and filter-targeted rollouts."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from devices import tenant_config
from devices.models import Device, DeviceTag
from goosebit_project.lib.errors import Conflict, InvalidInput
from rollouts import selectors, services
from rollouts.models import Action, Rollout, RolloutGroup
from rollouts.services import GroupSpec
from tests.factories import make_device, make_hardware, make_software
from tests.rollouts.ddi_helpers import install, offered_action_id, poll

pytestmark = pytest.mark.django_db


def fleet(count: int, *, prefix: str = "dev", **fields) -> list[str]:
    cids = [f"{prefix}-{index:02d}" for index in range(count)]
    for cid in cids:
        make_device(cid, sw_version="1.0.0", **fields)
    return cids


def create(software, groups, **fields):
    fields.setdefault("feed", "default")
    return services.rollout_create(
        name=fields.pop("name", "groups"), software=software, groups=groups, **fields
    )


def group_states(rollout: Rollout) -> list[str]:
    return list(
        RolloutGroup.objects.filter(rollout=rollout).order_by("position").values_list("status", flat=True)
    )


def members(rollout: Rollout) -> list[list[str]]:
    rollout = Rollout.objects.select_related("software").get(pk=rollout.pk)
    groups = selectors.rollout_groups_frozen_or_planned(rollout)
    return [
        sorted(
            selectors.devices_in_group(rollout=rollout, groups=groups, position=g.position).values_list(
                "controller_id", flat=True
            )
        )
        for g in groups
    ]


def status(rollout: Rollout) -> str:
    return Rollout.objects.get(pk=rollout.pk).status


# --- splitting -----------------------------------------------------------------------------------


def test_amount_groups_split_evenly_larger_groups_first():
    cids = fleet(10)
    rollout = create(make_software("2.0.0"), services.groups_even(3))

    assert [len(m) for m in members(rollout)] == [4, 3, 3]
    # Lowest ids first, as hawkBit fills groups; every device in exactly one group.
    assert sum(members(rollout), []) == cids


@pytest.mark.parametrize(
    ("devices", "percentage", "expected"),
    [(5, 10, 1), (10, 10, 1), (10, 25, 3), (3, 100 / 3, 1), (7, 50, 4), (1, 1, 1)],
)
def test_percentages_round_up_so_a_canary_is_never_empty(devices, percentage, expected):
    fleet(devices)
    rollout = create(
        make_software("2.0.0"),
        [GroupSpec(name="canary", target_percentage=percentage), GroupSpec(name="rest")],
    )
    canary, rest = members(rollout)
    assert len(canary) == expected
    assert len(rest) == devices - expected


def test_a_count_takes_at_most_that_many_and_an_empty_fleet_gives_empty_groups():
    fleet(3)
    rollout = create(make_software("2.0.0"), services.groups_canary(canary_count=5, waves=2))
    assert [len(m) for m in members(rollout)] == [3, 0, 0]


def test_group_filters_take_the_first_match_and_percentages_count_the_remaining():
    canary_tag = DeviceTag.objects.create(name="canary")
    pi = make_hardware("pi", "4")
    for index in range(4):
        make_device(f"pi-{index}", hardware=pi, sw_version="1.0.0")
    for index in range(6):
        make_device(f"x86-{index}", sw_version="1.0.0")
    for cid in ("pi-0", "x86-0"):
        Device.objects.get(controller_id=cid).tags.add(canary_tag)
    software = make_software("2.0.0", compatibility=[pi, make_hardware()])

    rollout = create(
        software,
        [
            GroupSpec(name="tagged", query="tag==canary"),
            # Overlaps the first: pi-0 is taken already; half of the other three pis.
            GroupSpec(name="pis", query="hardware.model==pi", target_percentage=50),
            GroupSpec(name="rest"),
        ],
    )

    tagged, pis, rest = members(rollout)
    assert tagged == ["pi-0", "x86-0"]
    assert pis == ["pi-1", "pi-2"]
    assert rest == ["pi-3", "x86-1", "x86-2", "x86-3", "x86-4", "x86-5"]


def test_the_split_is_frozen_at_start_and_the_poll_agrees_with_the_lists():
    cids = fleet(9)
    rollout = create(make_software("2.0.0"), services.groups_canary(canary_count=2, waves=2), start=True)
    groups = list(rollout.groups.all())
    assert [g.frozen_total for g in groups] == [2, 4, 3]
    listed = members(rollout)

    for cid in cids:
        device = Device.objects.get(controller_id=cid)
        group = selectors.target_for_device(device=device, include_held=True).group
        assert cid in listed[group.position]


def test_bad_group_definitions_name_the_field():
    software = make_software("2.0.0")
    cases = [
        ([], "groups must hold at least one group"),
        ([GroupSpec(name="a", target_percentage=0)], "groups[0].target_percentage must be a number above 0"),
        ([GroupSpec(name="a", target_count=0)], "groups[0].target_count must be from 1"),
        ([GroupSpec(name="a"), GroupSpec(name="a")], "groups[1].name 'a' names another group"),
        ([GroupSpec(name="a", success_threshold=101)], "groups[0].success_threshold must be from 1 to 100"),
        ([GroupSpec(name="a", query="nonsense==1")], "groups[0].query"),
        ([GroupSpec(name="a", success_action="explode")], "groups[0].success_action must be one of"),
        ([GroupSpec(name="a", target_count=1, target_percentage=5)], "groups[0].target_count and a target"),
    ]
    for groups, message in cases:
        with pytest.raises(InvalidInput) as error:
            create(software, groups)
        assert message in error.value.message
    assert not Rollout.objects.exists()


# --- conditions ----------------------------------------------------------------------------------


def test_the_next_group_starts_exactly_at_the_success_threshold(client):
    cids = fleet(8)
    rollout = create(
        make_software("2.0.0"),
        [GroupSpec(name="canary", target_count=4, success_threshold=75), GroupSpec(name="rest")],
        start=True,
    )
    assert offered_action_id(client, cids[4]) is None  # the rest waits
    install(client, cids[0])
    install(client, cids[1])  # 2 of 4 = 50 %: one below
    assert group_states(rollout) == ["running", "scheduled"]
    assert offered_action_id(client, cids[4]) is None

    install(client, cids[2])  # 3 of 4 = 75 %

    assert group_states(rollout) == ["finished", "running"]
    assert offered_action_id(client, cids[4]) is not None
    # The canary's straggler is still offered its update.
    assert offered_action_id(client, cids[3]) is not None


def test_the_error_threshold_pauses_exactly_there_and_names_the_group(client):
    cids = fleet(10)
    rollout = create(
        make_software("2.0.0"),
        [GroupSpec(name="wave", target_count=5, error_threshold=40), GroupSpec(name="rest")],
        start=True,
    )
    install(client, cids[0], finished="failure")  # 1 of 5 = 20 %
    install(client, cids[1])
    assert status(rollout) == Rollout.Status.RUNNING
    assert offered_action_id(client, cids[2]) is not None

    install(client, cids[3], finished="failure")  # 2 of 5 = 40 %

    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.PAUSED
    assert rollout.pause_reason == (
        "Paused automatically: group 'wave': 2 of 5 devices failed (40%), reaching its error threshold of 40%"
    )
    assert group_states(rollout) == ["error", "scheduled"]
    assert poll(client, cids[4]) == {}
    assert poll(client, cids[7]) == {}


def test_an_error_count_pauses_at_that_count_and_not_one_before(client):
    cids = fleet(6)
    rollout = create(make_software("2.0.0"), [GroupSpec(name="all", error_count=2)], start=True)
    install(client, cids[0], finished="failure")
    assert status(rollout) == Rollout.Status.RUNNING
    install(client, cids[1], finished="failure")
    assert status(rollout) == Rollout.Status.PAUSED


def test_pause_after_a_group_then_resume_starts_the_next(client):
    cids = fleet(4)
    rollout = create(
        make_software("2.0.0"),
        [GroupSpec(name="canary", target_count=1, success_action="pause"), GroupSpec(name="rest")],
        start=True,
    )
    install(client, cids[0])

    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.PAUSED
    assert "after group 'canary'" in rollout.pause_reason
    assert group_states(rollout) == ["finished", "scheduled"]
    assert poll(client, cids[1]) == {}

    services.rollout_resume(rollout=rollout)

    assert group_states(rollout) == ["finished", "running"]
    assert offered_action_id(client, cids[1]) is not None


def test_resume_after_an_error_pause_runs_the_group_again_until_the_next_failure(client):
    cids = fleet(6)
    rollout = create(make_software("2.0.0"), [GroupSpec(name="all", error_count=1)], start=True)
    install(client, cids[0], finished="failure")
    assert status(rollout) == Rollout.Status.PAUSED

    services.rollout_resume(rollout=rollout)
    assert group_states(rollout) == ["running"]
    install(client, cids[1])
    assert status(rollout) == Rollout.Status.RUNNING
    install(client, cids[2], finished="failure")
    assert status(rollout) == Rollout.Status.PAUSED


def test_the_last_group_finishing_finishes_the_rollout(client):
    cids = fleet(3)
    rollout = create(make_software("2.0.0"), services.groups_canary(canary_count=1, waves=1), start=True)
    for cid in cids:
        install(client, cid)
    assert group_states(rollout) == ["finished", "finished"]
    assert status(rollout) == Rollout.Status.FINISHED


def test_devices_already_on_the_version_count_as_done_and_empty_groups_pass():
    fleet(2)
    make_device("current", sw_version="2.0.0")
    software = make_software("2.0.0")
    rollout = create(
        software,
        [
            GroupSpec(name="empty", query="name==nobody"),
            GroupSpec(name="current", query="swVersion==2.0.0"),
            GroupSpec(name="rest"),
        ],
        start=True,
    )
    # Nothing to wait for in the first two: the rest runs at once.
    assert group_states(rollout) == ["finished", "finished", "running"]


def test_start_next_group_by_hand():
    fleet(4)
    rollout = create(make_software("2.0.0"), services.groups_even(2), start=True)
    started = services.rollout_trigger_next_group(rollout=rollout)
    assert started.position == 1
    assert group_states(rollout) == ["running", "running"]
    with pytest.raises(Conflict, match="no group left"):
        services.rollout_trigger_next_group(rollout=rollout)
    services.rollout_pause(rollout=rollout)
    with pytest.raises(Conflict, match="only a running rollout"):
        services.rollout_trigger_next_group(rollout=rollout)


def test_group_statistics_take_one_query_whatever_the_fleet_size(client, django_assert_num_queries):
    cids = fleet(12)
    rollout = create(make_software("2.0.0"), services.groups_even(3), start=True)
    install(client, cids[0])
    install(client, cids[1], finished="failure")
    rollout = Rollout.objects.select_related("software").get(pk=rollout.pk)
    groups = list(rollout.groups.all())
    selectors.conditional_holders()

    with django_assert_num_queries(1):
        stats = selectors.rollout_group_stats(rollout=rollout, groups=groups)
    fleet(20, prefix="more")
    with django_assert_num_queries(1):
        selectors.rollout_group_stats(rollout=rollout, groups=groups)

    first = stats[0]
    assert (first.targeted, first.succeeded, first.failed, first.not_started) == (4, 1, 1, 2)
    assert stats[1].not_started == 4


# --- advancing once under concurrent feedback ---------------------------------------------------


def test_two_workers_evaluating_the_same_moment_advance_a_group_once(client):
    cids = fleet(4)
    rollout = create(make_software("2.0.0"), services.groups_even(2), start=True)
    install(client, cids[0])
    Action.objects.filter(device__controller_id=cids[1]).delete()
    device = Device.objects.get(controller_id=cids[1])
    Device.objects.filter(pk=device.pk).update(sw_version="2.0.0")

    # Both saw the group running; the second's compare-and-swap matches no row.
    stale_a, stale_b = list(rollout.groups.all()), list(rollout.groups.all())
    services.rollout_evaluate(rollout=rollout, groups=stale_a)
    started = RolloutGroup.objects.get(rollout=rollout, position=1).started_at
    services.rollout_evaluate(rollout=rollout, groups=stale_b)

    assert group_states(rollout) == ["finished", "running"]
    assert RolloutGroup.objects.get(rollout=rollout, position=1).started_at == started


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL")
def test_concurrent_feedback_threads_advance_each_group_once():
    cids = fleet(8)
    rollout = create(make_software("2.0.0"), services.groups_even(2), start=True)
    devices = list(Device.objects.filter(controller_id__in=cids[:4]))
    for device in devices:
        services.device_reconcile(device=device)
    barrier = threading.Barrier(len(devices))
    errors: list[BaseException] = []

    def finish(device: Device) -> None:
        from django.db import connections

        try:
            action = Action.objects.get(device=device, status=Action.Status.PENDING)
            barrier.wait()
            services.action_record_feedback(
                action=action,
                channel="deployment",
                feedback=services.Feedback(execution="closed", finished="success"),
            )
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=finish, args=(device,)) for device in devices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert group_states(rollout) == ["finished", "running"]


# --- scheduled start, approval -------------------------------------------------------------------


def test_a_scheduled_rollout_starts_on_the_first_poll_after_its_time(client):
    cids = fleet(2)
    soon = timezone.now() + dt.timedelta(hours=1)
    rollout = create(make_software("2.0.0"), None, start_at=soon)
    assert poll(client, cids[0]) == {}
    assert status(rollout) == Rollout.Status.DRAFT

    Rollout.objects.filter(pk=rollout.pk).update(start_at=timezone.now() - dt.timedelta(seconds=1))
    services.targets_changed()

    assert offered_action_id(client, cids[0]) is not None
    assert status(rollout) == Rollout.Status.RUNNING
    assert services.rollouts_start_due() == []  # once only


def test_approval_needs_another_operator_and_a_denied_rollout_never_starts(settings):
    settings.GOOSEBIT_ROLLOUT_APPROVAL = True
    tenant_config.cache.invalidate()
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob")
    fleet(2)
    rollout = create(make_software("2.0.0"), None, created_by=alice, start=True)
    assert rollout.status == Rollout.Status.WAITING_FOR_APPROVAL
    with pytest.raises(Conflict, match="only a draft"):
        services.rollout_start(rollout=rollout)
    with pytest.raises(Conflict, match="four eyes"):
        services.rollout_approve(rollout=rollout, by=alice)

    services.rollout_approve(rollout=rollout, by=bob, remark="looks good")
    rollout.refresh_from_db()
    assert (rollout.status, rollout.approval_decided_by, rollout.approval_remark) == (
        Rollout.Status.DRAFT,
        "bob",
        "looks good",
    )
    services.rollout_start(rollout=rollout)

    other = create(make_software("3.0.0"), None, name="other", created_by=alice)
    services.rollout_deny(rollout=other, by=bob, remark="not now")
    assert status(other) == Rollout.Status.APPROVAL_DENIED
    with pytest.raises(Conflict):
        services.rollout_approve(rollout=other, by=bob)


# --- retry, dynamic, filter-targeted -----------------------------------------------------------


def test_retry_offers_the_failed_devices_again_and_only_them(client):
    cids = fleet(3)
    software = make_software("2.0.0")
    rollout = create(software, None, start=True)
    install(client, cids[0], finished="failure")
    install(client, cids[1])
    with pytest.raises(Conflict, match="only a paused, stopped or finished"):
        services.rollout_retry(rollout=rollout)
    services.rollout_stop(rollout=rollout)
    assert poll(client, cids[0]) == {}

    retry = services.rollout_retry(rollout=Rollout.objects.get(pk=rollout.pk), start=True)

    assert retry.retry_of_id == rollout.pk and retry.software_id == software.pk
    assert sorted(
        selectors.rollout_targeted_devices(rollout=retry).values_list("controller_id", flat=True)
    ) == [cids[0]]
    assert offered_action_id(client, cids[0]) is not None
    assert poll(client, cids[2]) == {}  # never failed: still held by the stopped rollout


def test_a_rollout_that_is_not_dynamic_leaves_later_devices_out_a_dynamic_one_takes_them(client):
    fleet(2, feed="fixed")
    fixed = create(make_software("2.0.0"), services.groups_even(2), dynamic=False, feed="fixed", start=True)
    services.rollout_trigger_next_group(rollout=fixed)
    make_device("late", sw_version="1.0.0", feed="fixed")
    services.targets_changed()
    assert poll(client, "late") == {}

    fleet(2, prefix="dyn", feed="dyn")
    create(make_software("3.0.0"), services.groups_even(2), feed="dyn", start=True, name="dyn")
    make_device("late-dyn", sw_version="1.0.0", feed="dyn")
    device = Device.objects.get(controller_id="late-dyn")
    assert selectors.target_for_device(device=device, include_held=True).group.position == 1


def test_a_rollout_by_query_reaches_only_matching_devices_of_any_feed(client):
    tag = DeviceTag.objects.create(name="lab")
    make_device("lab-a", sw_version="1.0.0", feed="alpha").tags.add(tag)
    make_device("lab-b", sw_version="1.0.0", feed="beta").tags.add(tag)
    make_device("plain", sw_version="1.0.0", feed="alpha")
    create(make_software("2.0.0"), None, feed="", query="tag==lab", start=True)

    assert offered_action_id(client, "lab-a") is not None
    assert offered_action_id(client, "lab-b") is not None
    assert poll(client, "plain") == {}


def test_a_waiting_devices_steady_poll_is_answered_from_the_cache(client, django_assert_max_num_queries):
    cids = fleet(4)
    create(make_software("2.0.0"), services.groups_canary(canary_count=1, waves=1), start=True)
    poll(client, cids[3])  # warms the cache
    with django_assert_max_num_queries(2):  # the device and its token check: no rollout query
        assert poll(client, cids[3]) == {}


def test_the_preview_shows_every_group_with_hardware_and_devices_on_the_version():
    pi = make_hardware("pi", "4")
    make_device("pi-a", hardware=pi, sw_version="2.0.0")
    make_device("pi-b", hardware=pi, sw_version="1.0.0")
    fleet(3)
    software = make_software("2.0.0", compatibility=[pi, make_hardware()])
    rollout = create(software, [GroupSpec(name="pis", query="hardware.model==pi"), GroupSpec(name="rest")])

    first, rest = (preview.as_dict() for preview in selectors.rollout_group_preview(rollout=rollout))

    assert first["devices"] == 2 and first["already_on_version"] == 1 and first["to_update"] == 1
    assert first["by_hardware"] == [{"model": "pi", "revision": "4", "devices": 2}]
    assert first["sample"] == ["pi-a", "pi-b"]
    assert rest["devices"] == 3 and rest["by_hardware"] == [{"model": "board", "revision": "1", "devices": 3}]


def test_a_rollout_by_query_that_reaches_nobody_says_so():
    make_device("a", sw_version="1.0.0")
    rollout = create(make_software("2.0.0"), None, feed="", query="name==nobody")
    (warning,) = selectors.rollout_warnings(rollout=rollout)
    assert warning.startswith(f"Rollout {rollout.name!r} targets 0 devices: no device in rollout mode")


def test_the_device_page_says_a_device_waits_for_its_group(admin_client):
    cids = fleet(3)
    create(make_software("2.0.0"), services.groups_canary(canary_count=1, waves=1), start=True)
    device = Device.objects.get(controller_id=cids[2])

    page = admin_client.get(f"/admin/devices/device/{device.pk}/change/").content.decode()

    assert "waiting for its group &#x27;Wave 1&#x27; to start" in page
