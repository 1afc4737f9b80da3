"""Saved device filters (rollouts.DeviceFilter) and their auto-assignment.

Saving never touches devices: a device picks up an auto-assignment on its next poll
(rollouts.selectors.targets). Every change bumps the target generation (targets_changed) so all
workers re-evaluate at once instead of after their cache entries expire.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from devices import tenant_config
from goosebit_project.lib.errors import Conflict, InvalidInput
from rollouts.models import DeviceFilter
from rollouts.options import DeploymentOptions
from rollouts.selectors.device_queries import device_query_compile
from rollouts.services.safety import targets_changed
from software.models import Software

MAX_FILTER_NAME_LENGTH = 128
MAX_QUERY_LENGTH = 4096
Status = DeviceFilter.AutoAssignStatus


def _clean_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("the filter's name must be non-empty text")
    name = name.strip()
    if len(name) > MAX_FILTER_NAME_LENGTH:
        raise InvalidInput(
            f"the filter's name is at most {MAX_FILTER_NAME_LENGTH} characters, got {len(name)}"
        )
    if "\x00" in name:
        raise InvalidInput("the filter's name must not contain NUL characters")
    return name


def _clean_query(query: object) -> str:
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("the filter's query must be non-empty text")
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"the filter's query is at most {MAX_QUERY_LENGTH} characters, got {len(query)}")
    device_query_compile(query=query)  # InvalidInput with the RSQL message
    return query


def _save(device_filter: DeviceFilter) -> DeviceFilter:
    try:
        with transaction.atomic():
            device_filter.save()
    except IntegrityError as error:
        raise Conflict(f"a filter named {device_filter.name!r} exists already") from error
    targets_changed()
    return device_filter


def device_filter_create(*, name: str, query: str, by: str = "") -> DeviceFilter:
    """A new saved filter; InvalidInput for a bad name or query, Conflict for a taken name."""
    device_filter = DeviceFilter(
        name=_clean_name(name), query=_clean_query(query), created_by=by, updated_by=by
    )
    return _save(device_filter)


def device_filter_update(
    *, device_filter: DeviceFilter, name: str | None = None, query: str | None = None, by: str = ""
) -> DeviceFilter:
    """Rename it or change its query (None: unchanged). A changed query keeps its auto-assignment:
    the devices it reaches change with it, at their next poll."""
    if name is not None:
        device_filter.name = _clean_name(name)
    if query is not None:
        device_filter.query = _clean_query(query)
    device_filter.updated_by = by
    return _save(device_filter)


def device_filter_delete(*, device_filter: DeviceFilter) -> None:
    """Delete it; devices it auto-assigned keep their actions (as after any change of target)."""
    try:
        device_filter.delete()
    except ProtectedError as error:  # nothing refers to a filter today; kept for safety
        raise Conflict(f"filter {device_filter.name!r} is in use") from error
    targets_changed()


def device_filter_set_auto_assign(
    *,
    device_filter: DeviceFilter,
    software: Software,
    options: DeploymentOptions | None = None,
    confirmation_required: bool = True,
    by: str = "",
) -> DeviceFilter:
    """Auto-assign ``software`` to the filter's devices: active at once, or waiting for a second
    operator's approval when the tenant setting auto.assignment.approval.enabled is on.

    ``options`` come from rollouts.options.deployment_options_validate. A deleted release is refused.
    """
    if (
        software is None
        or software.pk is None
        or not Software.objects.filter(pk=software.pk, deleted=False).exists()
    ):
        raise InvalidInput("the release to auto-assign does not exist")
    approval = tenant_config.cache.get().auto_assignment_approval_enabled
    device_filter.auto_assign_software = software
    device_filter.auto_assign_options = (options or DeploymentOptions()).as_json()
    device_filter.auto_assign_confirmation_required = confirmation_required
    device_filter.auto_assign_status = Status.WAITING_FOR_APPROVAL if approval else Status.ACTIVE
    device_filter.auto_assign_set_by = by
    device_filter.auto_assign_set_at = timezone.now()
    device_filter.auto_assign_decided_by = ""
    device_filter.auto_assign_decided_at = None
    device_filter.updated_by = by
    return _save(device_filter)


def device_filter_clear_auto_assign(*, device_filter: DeviceFilter, by: str = "") -> DeviceFilter:
    """Stop auto-assigning; actions already created stay (a changed target cancels them as usual)."""
    device_filter.auto_assign_software = None
    device_filter.auto_assign_options = {}
    device_filter.auto_assign_confirmation_required = True
    device_filter.auto_assign_status = Status.NONE
    device_filter.auto_assign_set_by = ""
    device_filter.auto_assign_set_at = None
    device_filter.auto_assign_decided_by = ""
    device_filter.auto_assign_decided_at = None
    device_filter.updated_by = by
    return _save(device_filter)


def _decide(device_filter: DeviceFilter, *, status: str, by: str) -> DeviceFilter:
    if device_filter.auto_assign_status != Status.WAITING_FOR_APPROVAL:
        raise Conflict(
            f"filter {device_filter.name!r} has no auto-assignment waiting for approval "
            f"(it is {device_filter.get_auto_assign_status_display().lower()})"
        )
    if not by:
        raise InvalidInput("an approval needs the name of who decides")
    if by == device_filter.auto_assign_set_by:
        # Four eyes: whoever set the auto-assignment cannot approve it too.
        raise Conflict("the auto-assignment must be approved or denied by another operator than who set it")
    device_filter.auto_assign_status = status
    device_filter.auto_assign_decided_by = by
    device_filter.auto_assign_decided_at = timezone.now()
    return _save(device_filter)


def device_filter_approve(*, device_filter: DeviceFilter, by: str) -> DeviceFilter:
    """A second operator approves the auto-assignment: devices get it from their next poll."""
    return _decide(device_filter, status=Status.ACTIVE, by=by)


def device_filter_deny(*, device_filter: DeviceFilter, by: str) -> DeviceFilter:
    """A second operator denies it: it stays on the filter, inert, until set again or cleared."""
    return _decide(device_filter, status=Status.DENIED, by=by)
