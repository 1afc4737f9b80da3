"""Reading a ``POST /rest/v1/rollouts`` body (hawkBit's MgmtRolloutRestRequestBodyPost).

As hawkBit: ``targetFilterQuery`` and ``distributionSetId`` are required (a missing or malformed
query is its RSQL syntax error, an unknown set its 404); ``groups`` exclude ``amountGroups``
(neither: one group) and ``dynamic``; the top-level conditions default to hawkBit's (success at
50 %, then the next group; pause at 50 % errors) and stand for whatever a group leaves out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import User
from rest_framework.request import Request

from goosebit_project.lib import errors as domain
from mgmt import errors
from mgmt.views.assignments import MAX_FORCETIME, Assignment, software_or_404
from mgmt.views.targets import optional_boolean, optional_string
from rollouts import services as rollout_services
from rollouts.models import Rollout, RolloutGroup
from rollouts.selectors.device_queries import device_query_compile
from rollouts.services.groups import GroupSpec, InvalidSetting

SUCCESS_ACTIONS = {
    "NEXTGROUP": RolloutGroup.SuccessAction.NEXT_GROUP,
    "PAUSE": RolloutGroup.SuccessAction.PAUSE,
}
# hawkBit's RolloutGroupConditionBuilder.withDefaults().
DEFAULT_SUCCESS_THRESHOLD = 50
DEFAULT_ERROR_THRESHOLD = 50
# hawkBit's field names for the fields our services name (InvalidSetting.field).
_GROUP_FIELDS = {
    "name": "name",
    "query": "targetFilterQuery",
    "target_count": "targetPercentage",
    "target_percentage": "targetPercentage",
    "success_threshold": "successCondition.expression",
    "success_action": "successAction.action",
    "error_threshold": "errorCondition.expression",
    "confirmation_required": "confirmationRequired",
    "description": "description",
}
_ROLLOUT_FIELDS = {"start_at": "startAt"}


def _threshold(value: Any, where: str) -> int:
    """A THRESHOLD expression: a whole percent 0-100, given as hawkBit does (a string) or a number."""
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not text.isascii() or not text.isdigit() or not 0 <= int(text) <= 100:
        raise errors.bad_request(f"{where}.expression must be a whole percent from 0 to 100, got {value!r}")
    return int(text)


def _object(body: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise errors.bad_request(f"{where}{key} must be an object")
    return value


def _condition(body: dict[str, Any], key: str, where: str) -> int | None:
    condition = _object(body, key, where)
    if condition is None:
        return None
    kind = condition.get("condition", "THRESHOLD")
    if not isinstance(kind, str) or kind.upper() != "THRESHOLD":
        raise errors.bad_request(f"{where}{key}.condition must be THRESHOLD, got {kind!r}")
    return _threshold(condition.get("expression"), f"{where}{key}")


def _action(body: dict[str, Any], key: str, where: str, allowed: tuple[str, ...]) -> str | None:
    action = _object(body, key, where)
    if action is None:
        return None
    name = action.get("action", allowed[0])
    if not isinstance(name, str) or name.upper() not in allowed:
        raise errors.bad_request(f"{where}{key}.action must be one of {', '.join(allowed)}, got {name!r}")
    return name.upper()


class Conditions:
    """The success and error conditions of a body: the rollout's (hawkBit's defaults where it says
    nothing) or one group's (the rollout's where it says nothing)."""

    success_threshold: int
    success_action: str
    error_threshold: int

    def __init__(self, body: dict[str, Any], where: str, defaults: Conditions | None = None) -> None:
        success = _condition(body, "successCondition", where)
        action = _action(body, "successAction", where, ("NEXTGROUP", "PAUSE"))
        error = _condition(body, "errorCondition", where)
        _action(body, "errorAction", where, ("PAUSE",))  # hawkBit's only error action
        if success is None:
            success = defaults.success_threshold if defaults else DEFAULT_SUCCESS_THRESHOLD
        if error is None:
            error = defaults.error_threshold if defaults else DEFAULT_ERROR_THRESHOLD
        # hawkBit's thresholds run from 0, ours from 1: for a group 0 % and 1 % behave alike.
        self.success_threshold, self.error_threshold = max(success, 1), max(error, 1)
        if action is not None:
            self.success_action = SUCCESS_ACTIONS[action]
        else:
            self.success_action = defaults.success_action if defaults else SUCCESS_ACTIONS["NEXTGROUP"]


def _query(body: dict[str, Any], where: str, *, required: bool) -> str:
    query = optional_string(
        body, "targetFilterQuery", max_length=rollout_services.MAX_QUERY_LENGTH, where=where
    )
    if required and not query:
        raise errors.rsql_syntax(f"{where}targetFilterQuery is required: a rollout needs a target filter")
    if query:
        try:
            device_query_compile(query=query)
        except domain.InvalidInput as exc:
            raise errors.rsql_syntax(f"{where}targetFilterQuery: {exc.message}") from None
    return query or ""


def _group_spec(entry: Any, index: int, defaults: Conditions, confirmation: bool | None) -> GroupSpec:
    where = f"groups[{index}]."
    if not isinstance(entry, dict):
        raise errors.bad_request(f"groups[{index}] must be an object")
    name = optional_string(entry, "name", max_length=128, where=where)
    if not name:
        raise errors.bad_request(f"{where}name is required")
    percentage = entry.get("targetPercentage")
    if percentage is not None and (
        isinstance(percentage, bool) or not isinstance(percentage, int | float) or not 0 < percentage <= 100
    ):
        raise errors.bad_request(
            f"{where}targetPercentage must be a number above 0 and at most 100, got {percentage!r}"
        )
    conditions = Conditions(entry, where, defaults)
    group_confirmation = optional_boolean(entry, "confirmationRequired", where=where)
    return GroupSpec(
        name=name,
        description=optional_string(entry, "description", max_length=512, where=where) or "",
        query=_query(entry, where, required=False),
        target_percentage=float(percentage) if percentage is not None else None,
        success_threshold=conditions.success_threshold,
        success_action=conditions.success_action,
        error_threshold=conditions.error_threshold,
        confirmation_required=confirmation if group_confirmation is None else group_confirmation,
    )


def _groups(body: dict[str, Any], *, dynamic: bool, confirmation: bool | None) -> list[GroupSpec]:
    defaults = Conditions(body, "")
    amount, groups = body.get("amountGroups"), body.get("groups")
    if groups is not None:
        if amount is not None:
            raise errors.bad_request("amountGroups must not be set when groups are given")
        if dynamic:
            raise errors.bad_request("dynamic rollouts are not supported with groups")
        if not isinstance(groups, list) or not groups:
            raise errors.bad_request("groups must be a non-empty array")
        return [_group_spec(entry, index, defaults, confirmation) for index, entry in enumerate(groups)]
    if amount is None:
        amount = 1  # hawkBit's default
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise errors.bad_request(f"amountGroups must be a whole number, got {amount!r}")
    try:
        return rollout_services.groups_even(
            amount,
            success_threshold=defaults.success_threshold,
            success_action=defaults.success_action,
            error_threshold=defaults.error_threshold,
        )
    except InvalidSetting as exc:
        raise errors.bad_request(f"amountGroups {exc.problem}") from None


def _start_at(body: dict[str, Any]) -> datetime | None:
    value = body.get("startAt")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FORCETIME:
        raise errors.bad_request(f"startAt must be milliseconds since the epoch, got {str(value)[:40]!r}")
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def hawkbit_field(field: str) -> str:
    """``groups[1].target_percentage`` -> ``groups[1].targetPercentage``."""
    head, _, tail = field.rpartition(".")
    if head.startswith("groups["):
        return f"{head}.{_GROUP_FIELDS.get(tail, tail)}"
    return _ROLLOUT_FIELDS.get(field, field)


def invalid(exc: domain.DomainError) -> errors.MgmtError:
    """A service error as hawkBit answers it: bad input names hawkBit's field, a refused
    transition is its RolloutIllegalStateException."""
    if isinstance(exc, InvalidSetting):
        return errors.bad_request(f"{hawkbit_field(exc.field)} {exc.problem}")
    if isinstance(exc, domain.Conflict):
        return errors.rollout_illegal_state(exc.message)
    return errors.from_domain_error(exc)


def request_user(request: Request) -> User | None:
    user = request.user
    return user if isinstance(user, User) else None


def rollout_create_from(request: Request, body: dict[str, Any]) -> Rollout:
    """Validate the body, then create the rollout (nothing is written when anything is wrong)."""
    name = optional_string(body, "name", max_length=rollout_services.MAX_NAME_LENGTH)
    if not name:
        raise errors.bad_request("name is required")
    description = optional_string(body, "description", max_length=512) or ""
    query = _query(body, "", required=True)
    if body.get("distributionSetId") is None:
        raise errors.bad_request("distributionSetId is required")
    try:
        software = software_or_404(body.get("distributionSetId"), where="distributionSet")
    except errors.MgmtError as exc:
        exc.message = f"distributionSetId: {exc.message}"
        raise
    dynamic = bool(optional_boolean(body, "dynamic"))
    confirmation = optional_boolean(body, "confirmationRequired")
    groups = _groups(body, dynamic=dynamic, confirmation=confirmation)
    assignment = Assignment(body, "")
    try:
        return rollout_services.rollout_create(
            name=name,
            software=software,
            feed="",  # hawkBit's rollouts target by query alone, across feeds
            query=query,
            description=description,
            groups=groups,
            dynamic=dynamic,
            start_at=_start_at(body),
            created_by=request_user(request),
            confirmation_required=assignment.confirmation_required,
            options=assignment.options,
        )
    except domain.DomainError as exc:
        raise invalid(exc) from None
