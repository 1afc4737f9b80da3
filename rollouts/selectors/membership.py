"""Which devices a rollout targets and which of its groups each one belongs to, as SQL conditions.

Nothing is stored per device. A rollout targets the devices in rollout mode whose hardware its
software fits, of its feed ("" = any feed), matching its query ("" = all), and for a retry only
those whose newest action in the retried rollout failed. Its groups split them in ``position``
order: a device belongs to the first group whose query it matches and whose ``boundary`` (the id
of the group's last device, frozen at start by rollouts.services.groups) its id does not exceed.
A dynamic rollout puts every other targeted device (one that came later) in its last group.

Every function here gives the same answer for one device (the poll) as for a whole queryset
(statistics, previews, device lists): tests/rollouts/test_groups.py holds them to that.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import (
    Case,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    Value,
    When,
)

from devices.models import Device
from goosebit_project.lib.errors import InvalidInput
from rollouts.models import Action, Rollout, RolloutGroup
from rollouts.selectors.device_queries import device_query_compile, queryable
from software.models import Software

# Matches no device: the condition of a stored query that no longer compiles (the query fields
# changed under it). Failing closed: a rollout never reaches devices nobody selected.
NOTHING = Q(pk__in=[])
# Matches every device: When() refuses an empty Q().
EVERYTHING = Q(pk__isnull=False)


def _compiled(query: str) -> Q:
    if not query:
        return Q()
    try:
        return device_query_compile(query=query)
    except InvalidInput:
        return NOTHING


def rollout_is_conditional(rollout: Rollout) -> bool:
    """Does whether a device is targeted depend on more than its feed, mode and hardware?"""
    return bool(rollout.query) or rollout.retry_of_id is not None


def retry_condition(retry_of_id: int) -> Q:
    """Devices whose newest action in rollout ``retry_of_id`` failed (hawkBit's retry)."""
    later = Action.objects.filter(rollout_id=retry_of_id, device=OuterRef("device")).filter(
        Q(created__gt=OuterRef("created")) | Q(created=OuterRef("created"), pk__gt=OuterRef("pk"))
    )
    failed = Action.objects.filter(
        rollout_id=retry_of_id, device=OuterRef("pk"), status=Action.Status.ERROR
    ).filter(~Exists(later))
    return Q(Exists(failed))


def rollout_own_condition(rollout: Rollout) -> Q:
    """The devices ``rollout`` would target if no newer rollout claimed any (over ``queryable``)."""
    compatible = Software.compatibility.through.objects.filter(software_id=rollout.software_id).values(
        "hardware_id"
    )
    condition = Q(update_mode=Device.UpdateMode.ROLLOUT, hardware_id__in=compatible)
    if rollout.feed:
        condition &= Q(feed=rollout.feed)
    condition &= _compiled(rollout.query)
    if rollout.retry_of_id is not None:
        condition &= retry_condition(rollout.retry_of_id)
    return condition


def group_condition(group: RolloutGroup) -> Q:
    """The devices the group takes among those no earlier group took (over ``queryable``)."""
    condition = _compiled(group.query)
    if group.boundary is not None:
        condition &= Q(pk__lte=group.boundary)
    return condition or EVERYTHING


def group_position_case(*, groups: Sequence[RolloutGroup], dynamic: bool) -> Case:
    """Annotation: each device's group position (first match wins), None for no group."""
    whens = [When(group_condition(group), then=Value(group.position)) for group in groups]
    default = Value(groups[-1].position) if dynamic and groups else Value(None)
    return Case(*whens, default=default, output_field=IntegerField())


def _needs_sql(groups: Sequence[RolloutGroup]) -> bool:
    return any(group.query for group in groups)


def group_for_device(*, device: Device, groups: Sequence[RolloutGroup], dynamic: bool) -> RolloutGroup | None:
    """The group (of a targeted device) it belongs to: no query when no group has a filter."""
    if not groups:
        return None
    if _needs_sql(groups):
        position = (
            queryable(Device.objects.filter(pk=device.pk))
            .annotate(group_position=group_position_case(groups=groups, dynamic=dynamic))
            .values_list("group_position", flat=True)
            .first()
        )
        return next((group for group in groups if group.position == position), None)
    for group in groups:
        if group.boundary is None or device.pk <= group.boundary:
            return group
    return groups[-1] if dynamic else None


def groups_for_devices(
    *, device_ids: Sequence[int], groups: Sequence[RolloutGroup], dynamic: bool
) -> dict[int, RolloutGroup | None]:
    """group_for_device for many targeted devices of one rollout: at most one query."""
    if not groups:
        return dict.fromkeys(device_ids)
    by_position = {group.position: group for group in groups}
    if _needs_sql(groups):
        rows = (
            queryable(Device.objects.filter(pk__in=device_ids))
            .annotate(group_position=group_position_case(groups=groups, dynamic=dynamic))
            .values_list("pk", "group_position")
        )
        found = {pk: by_position.get(position) for pk, position in rows}
        return {pk: found.get(pk) for pk in device_ids}
    return {
        pk: next(
            (group for group in groups if group.boundary is None or pk <= group.boundary),
            groups[-1] if dynamic else None,
        )
        for pk in device_ids
    }
