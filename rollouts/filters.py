"""Filters of the rollout and action lists (API)."""

from __future__ import annotations

import django_filters

from goosebit_project.api_filters import IdFilter, WordChoiceFilter
from rollouts.models import Action, Rollout


class RolloutFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Rollout.Status.choices)
    feed = django_filters.CharFilter()
    software = IdFilter(field_name="software_id")

    class Meta:
        model = Rollout
        fields = ["status", "feed", "software"]


# README's glossary: the word clients filter by for each stored action status.
ACTION_STATUS_WORDS: dict[str, str] = {
    Action.Status.PENDING: "waiting",
    Action.Status.WAIT_FOR_CONFIRMATION: "waiting_for_confirmation",
    Action.Status.RUNNING: "in_progress",
    Action.Status.CANCELING: "canceling",
    Action.Status.CANCELED: "canceled",
    Action.Status.FINISHED: "succeeded",
    Action.Status.ERROR: "failed",
}


class ActionFilterSet(django_filters.FilterSet):
    device = django_filters.CharFilter(field_name="device__controller_id", help_text="controller id")
    rollout = IdFilter(field_name="rollout_id")
    software = IdFilter(field_name="software_id")
    status = WordChoiceFilter(
        words=ACTION_STATUS_WORDS,
        choices=Action.Status.choices,
        help_text="waiting, waiting_for_confirmation, in_progress, canceling, canceled, succeeded, failed "
        "(the stored values pending, running, finished and error are accepted as aliases)",
    )
    reason = django_filters.MultipleChoiceFilter(choices=Action.Reason.choices)

    class Meta:
        model = Action
        fields = ["device", "rollout", "software", "status", "reason"]
