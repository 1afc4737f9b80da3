"""Rollout groups over random fleets: the split the selectors compute agrees with a plain model.

Each example builds a fleet (0-40 devices; tags, hardware, feeds, update modes), a rollout with
1-5 random groups (a count, a percentage or neither; a query or none), and checks, before and
after the start, that

- every targeted device is in at most one group, in exactly one for a dynamic rollout, and the
  groups hold exactly the devices the model below gives them (so they are disjoint);
- each group's size is group_size_of of the candidates the earlier groups left that match its
  query (lowest ids first), as rollout_group_sizes plans it and the start freezes it;
- the per-device answers (membership.group_for_device, groups_for_devices, target_for_device,
  targets_for_devices) agree with the SQL lists (devices_in_group);
- rollout_group_stats counts each targeted device once, in the group that holds it;

and that devices joining after the start go to the last group of a dynamic rollout and to none
of a rollout that is not.

Every example runs in a savepoint that is rolled back, so examples never see each other's rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.models import Device, DeviceTag
from rollouts import selectors, services
from rollouts.models import Rollout, RolloutGroup
from rollouts.selectors.membership import group_for_device, groups_for_devices
from rollouts.services import GroupSpec
from tests.factories import make_device, make_hardware, make_software

pytestmark = pytest.mark.django_db

TARGETED_HARDWARE = ("board", "pi")  # the software fits these; "other" and None it does not
QUERIES = ("", "tag==a", "tag!=a", "hardware.model==pi")
ROLLOUT_QUERIES = ("", "tag==b")
PERCENTAGES = (0.5, 1, 10, 25, 100 / 3, 50, 99.9, 100)


@dataclass(frozen=True)
class DeviceSpec:
    hardware: str | None
    tags: frozenset[str]
    feed: str
    mode: str


device_specs = st.builds(
    DeviceSpec,
    hardware=st.sampled_from(["board", "board", "pi", "pi", "other", None]),
    tags=st.frozensets(st.sampled_from(["a", "b"])),
    feed=st.sampled_from(["default", "default", "default", "elsewhere"]),
    mode=st.sampled_from([Device.UpdateMode.ROLLOUT] * 5 + [Device.UpdateMode.PINNED]),
)


@st.composite
def group_specs(draw, index: int) -> GroupSpec:
    size = draw(st.sampled_from(["count", "percentage", "rest"]))
    return GroupSpec(
        name=f"g{index}",
        query=draw(st.sampled_from(QUERIES)),
        target_count=draw(st.integers(1, 15)) if size == "count" else None,
        target_percentage=draw(st.sampled_from(PERCENTAGES)) if size == "percentage" else None,
    )


@st.composite
def group_lists(draw) -> list[GroupSpec]:
    amount = draw(st.integers(1, 5))
    return [draw(group_specs(index)) for index in range(amount)]


# --- the model: what the groups should hold, in plain Python -------------------------------------


def matches(query: str, device: Device, tags: frozenset[str]) -> bool:
    model = device.hardware.model if device.hardware else None
    return {
        "": True,
        "tag==a": "a" in tags,
        "tag!=a": "a" not in tags,
        "tag==b": "b" in tags,
        "hardware.model==pi": model == "pi",
    }[query]


def is_targeted(device: Device, tags: frozenset[str], rollout_query: str) -> bool:
    return (
        device.update_mode == Device.UpdateMode.ROLLOUT
        and device.hardware is not None
        and device.hardware.model in TARGETED_HARDWARE
        and device.feed == "default"
        and matches(rollout_query, device, tags)
    )


def planned_split(
    targeted: list[Device], tags: dict[int, frozenset[str]], groups: list[GroupSpec], *, dynamic: bool
) -> tuple[list[list[int]], list[int]]:
    """(the device ids each group holds, each group's size): groups take, in order, their share of
    the candidates the earlier ones left that match their query, lowest ids first; a dynamic
    rollout's last group also holds every targeted device no group took."""
    remaining = sorted(targeted, key=lambda device: device.pk)
    held: list[list[int]] = []
    sizes: list[int] = []
    for group in groups:
        candidates = [d for d in remaining if matches(group.query, d, tags[d.pk])]
        size = selectors.group_size_of(
            candidates=len(candidates),
            target_count=group.target_count,
            target_percentage=group.target_percentage,
        )
        taken = candidates[:size]
        held.append([d.pk for d in taken])
        sizes.append(size)
        remaining = [d for d in remaining if d not in taken]
    if dynamic:
        held[-1] = sorted(held[-1] + [d.pk for d in remaining])
    return held, sizes


# --- building an example --------------------------------------------------------------------------


def build_device(spec: DeviceSpec, controller_id: str, tag_rows: dict[str, DeviceTag]) -> Device:
    fields = {"sw_version": "1.0.0", "feed": spec.feed, "update_mode": spec.mode}
    if spec.hardware is None:
        device = Device.objects.create(
            controller_id=controller_id,
            hardware=None,
            state=Device.State.REGISTERED,
            request_attributes=False,
            **fields,
        )
    else:
        device = make_device(controller_id, hardware=make_hardware(spec.hardware, "1"), **fields)
    device.tags.set([tag_rows[name] for name in spec.tags])
    return device


def devices_by_group(rollout: Rollout, groups: list[RolloutGroup]) -> list[list[int]]:
    return [
        sorted(
            selectors.devices_in_group(rollout=rollout, groups=groups, position=group.position).values_list(
                "pk", flat=True
            )
        )
        for group in groups
    ]


def check_split(
    rollout: Rollout,
    groups: list[RolloutGroup],
    targeted: list[Device],
    expected: list[list[int]],
    *,
    fleet: list[Device],
    one_by_one: list[Device],
    started: bool,
) -> None:
    """Lists, per-device answers and statistics all agree with ``expected``.

    The batch answers are checked for the whole ``fleet``; the per-device ones (a few queries
    each) for ``one_by_one`` only, to keep the examples fast.
    """
    listed = devices_by_group(rollout, groups)
    assert listed == expected
    targeted_ids = sorted(d.pk for d in targeted)
    assert sorted(selectors.rollout_targeted_devices(rollout=rollout).values_list("pk", flat=True)) == (
        targeted_ids
    )
    in_lists = [pk for members in listed for pk in members]
    assert len(in_lists) == len(set(in_lists)), "a device is in two groups"
    assert set(in_lists) <= set(targeted_ids)
    if rollout.dynamic:
        assert sorted(in_lists) == targeted_ids, "a targeted device of a dynamic rollout is in no group"

    position_of = {
        pk: group.position for group, members in zip(groups, listed, strict=True) for pk in members
    }
    batch = groups_for_devices(device_ids=targeted_ids, groups=groups, dynamic=rollout.dynamic)
    assert {pk: group.position for pk, group in batch.items() if group is not None} == position_of
    if not started:
        # A draft delivers nothing, so only membership can say where a device will be.
        for device in one_by_one:
            one = group_for_device(device=device, groups=groups, dynamic=rollout.dynamic)
            assert (one.position if one else None) == position_of.get(device.pk), device.controller_id
    else:
        fresh = list(
            Device.objects.filter(pk__in=[d.pk for d in fleet]).select_related(
                "hardware", "assigned_software"
            )
        )
        many = selectors.targets_for_devices(devices=fresh, include_held=True)
        offered = {pk: target.group.position for pk, target in many.items() if target and target.group}
        # Every device in a group is offered the rollout in that group, nobody else at all.
        assert offered == position_of
        assert all(target is None or target.rollout == rollout for target in many.values())
        for device in one_by_one:
            target = selectors.target_for_device(device=device, include_held=True)
            if device.pk in position_of:
                assert target is not None and target.rollout is not None
                assert target.rollout.pk == rollout.pk
                assert target.group is not None and target.group.position == position_of[device.pk]
            else:  # in no group: not targeted, or came after the start of a fixed rollout
                assert target is None, device.controller_id
            # The steady poll's cache may only short-cut "nothing to do": never for a device
            # whose group is open (it still runs 1.0.0).
            offered_now = selectors.target_for_device(device=device)
            cached = selectors.cached_target_for_device(device=device)
            if offered_now is not None:
                assert cached is not None and not cached.settles(device), device.controller_id

    stats = selectors.rollout_group_stats(rollout=rollout, groups=groups)
    position_set = {group.position for group in groups}
    assert set(stats) - position_set <= {None}
    assert sum(entry.targeted for entry in stats.values()) == len(targeted)
    for group, members in zip(groups, listed, strict=True):
        assert stats[group.position].targeted == len(members)
        assert stats[group.position].not_started == len(members)  # nobody has an action yet
    # Targeted devices in no group are counted under position None (typed as int keys, though).
    in_no_group = sum(entry.targeted for entry in stats.values() if entry.position not in position_set)
    assert in_no_group == len(targeted) - len(in_lists)


PROPERTIES = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTIES
@given(
    # A size first, then that many devices: plain lists stay short over few examples.
    fleet=st.integers(0, 40).flatmap(lambda size: st.lists(device_specs, min_size=size, max_size=size)),
    joiners=st.lists(device_specs, max_size=3),
    groups=group_lists(),
    dynamic=st.booleans(),
    rollout_query=st.sampled_from(ROLLOUT_QUERIES),
)
def test_groups_split_the_targeted_devices_as_planned_before_and_after_the_start(
    fleet, joiners, groups, dynamic, rollout_query
):
    with rolled_back():
        check_example(
            fleet=fleet, joiners=joiners, groups=groups, dynamic=dynamic, rollout_query=rollout_query
        )


@contextmanager
def rolled_back() -> Iterator[None]:
    """One example's rows live in a savepoint of the test's transaction, undone afterwards."""
    with transaction.atomic():
        selectors.target_cache_invalidate()  # nothing cached from an example undone before
        yield
        transaction.set_rollback(True)
    selectors.target_cache_invalidate()


def make_fleet(
    specs: list[DeviceSpec], prefix: str, tag_rows: dict[str, DeviceTag]
) -> tuple[list[Device], dict]:
    """The devices (hardware loaded, oldest first) and each one's tags by id."""
    made = [build_device(spec, f"{prefix}-{index:02d}", tag_rows) for index, spec in enumerate(specs)]
    tags = {device.pk: spec.tags for device, spec in zip(made, specs, strict=True)}
    return list(Device.objects.filter(pk__in=tags).select_related("hardware").order_by("pk")), tags


def check_example(
    *,
    fleet: list[DeviceSpec],
    joiners: list[DeviceSpec],
    groups: list[GroupSpec],
    dynamic: bool,
    rollout_query: str,
) -> None:
    tag_rows = {name: DeviceTag.objects.create(name=name) for name in ("a", "b")}
    software = make_software(
        "2.0.0", compatibility=[make_hardware(model, "1") for model in TARGETED_HARDWARE]
    )
    make_hardware("other", "1")
    devices, tags = make_fleet(fleet, "dev", tag_rows)
    targeted = [d for d in devices if is_targeted(d, tags[d.pk], rollout_query)]
    untargeted = [d for d in devices if d not in targeted]
    expected, sizes = planned_split(targeted, tags, groups, dynamic=dynamic)

    rollout = services.rollout_create(
        name="property",
        software=software,
        feed="default",
        query=rollout_query,
        groups=groups,
        dynamic=dynamic,
    )
    rollout = Rollout.objects.select_related("software").get(pk=rollout.pk)

    # Planned (a draft): rollout_groups_frozen_or_planned sizes each group by rollout_group_sizes.
    planned = selectors.rollout_groups_frozen_or_planned(rollout)
    assert [group.frozen_total for group in planned] == sizes
    check_split(rollout, planned, targeted, expected, fleet=devices, one_by_one=targeted, started=False)

    # Started: the sizes are frozen as planned and the split does not move.
    services.rollout_start(rollout=rollout)
    rollout = Rollout.objects.select_related("software").get(pk=rollout.pk)
    frozen = list(rollout.groups.all())
    assert [group.frozen_total for group in frozen] == sizes
    assert frozen[0].status != RolloutGroup.Status.SCHEDULED
    check_split(
        rollout, frozen, targeted, expected, fleet=devices, one_by_one=targeted + untargeted[:3], started=True
    )
    if not joiners:
        return

    # Devices joining later: the last group of a dynamic rollout takes them, no group of a fixed
    # one does; the frozen sizes stay.
    late, late_tags = make_fleet(joiners, "late", tag_rows)
    late_targeted = [d for d in late if is_targeted(d, late_tags[d.pk], rollout_query)]
    if dynamic:
        expected[-1] = sorted(expected[-1] + [d.pk for d in late_targeted])
    check_split(
        rollout,
        frozen,
        targeted + late_targeted,
        expected,
        fleet=devices + late,
        one_by_one=late,
        started=True,
    )
    assert [group.frozen_total for group in rollout.groups.all()] == sizes


# --- groups are rules, not lists (README "Staged rollouts") ---------------------------------------
#
# The start freezes each group's size as an id boundary; which group a device is in follows from
# its attributes now (nothing is stored per device, so nothing fans out and a waiting device's
# poll costs nothing). A device that comes to match after the start therefore lands in the group
# whose rules and boundary select it, and a changed tag can move a device between groups. These
# tests pin that documented behaviour (hawkBit instead stores each target's group at creation).


def _group_of(controller_id: str) -> int | None:
    device = Device.objects.get(controller_id=controller_id)
    target = selectors.target_for_device(device=device, include_held=True)
    return target.group.position if target is not None and target.group is not None else None


def test_an_existing_device_that_comes_to_match_after_the_start_is_placed_by_the_rules():
    make_device("pinned-then-rollout", sw_version="1.0.0", update_mode=Device.UpdateMode.PINNED)
    for index in range(4):
        make_device(f"dev-{index}", sw_version="1.0.0")
    rollout = services.rollout_create(
        name="fixed",
        software=make_software("2.0.0"),
        feed="default",
        groups=services.groups_even(2),
        dynamic=False,
        start=True,
    )
    assert [group.frozen_total for group in rollout.groups.all()] == [2, 2]

    Device.objects.filter(controller_id="pinned-then-rollout").update(update_mode=Device.UpdateMode.ROLLOUT)
    services.targets_changed()

    # Its id is below the first boundary: it is in the first group, counted there live.
    assert _group_of("pinned-then-rollout") == 0
    stats = selectors.rollout_group_stats(
        rollout=Rollout.objects.select_related("software").get(pk=rollout.pk)
    )
    assert [stats[position].targeted for position in (0, 1)] == [3, 2]
    # A device registered after the start has a higher id than every boundary: a fixed rollout
    # never takes it.
    make_device("registered-later", sw_version="1.0.0")
    services.targets_changed()
    assert selectors.target_for_device(device=Device.objects.get(controller_id="registered-later")) is None


def test_a_tag_added_after_the_start_moves_a_device_into_the_group_it_now_matches():
    tag = DeviceTag.objects.create(name="a")
    for index in range(6):
        make_device(f"dev-{index}", sw_version="1.0.0")
    Device.objects.get(controller_id="dev-5").tags.add(tag)
    services.rollout_create(
        name="tagged canary",
        software=make_software("2.0.0"),
        feed="default",
        groups=[GroupSpec(name="canary", query="tag==a"), GroupSpec(name="rest")],
        start=True,
    )
    assert _group_of("dev-0") == 1
    assert selectors.target_for_device(device=Device.objects.get(controller_id="dev-0")) is None

    Device.objects.get(controller_id="dev-0").tags.add(tag)
    services.targets_changed()

    assert _group_of("dev-0") == 0
    assert selectors.target_for_device(device=Device.objects.get(controller_id="dev-0")) is not None
