"""Admin form fields for how updates are offered (rollouts.options), shared by the device page,
the "Assign software" bulk action and the rollout form. The rules stay in
rollouts.options.deployment_options_validate; errors land on the field they name."""

from __future__ import annotations

from typing import Any

from django import forms

from goosebit_project.lib.errors import DomainError
from rollouts.models import Action
from rollouts.options import DeploymentOptions, InvalidOption, deployment_options_validate

OPTION_FORM_FIELDS = [
    "action_type",
    "forcetime",
    "weight",
    "maintenance_schedule",
    "maintenance_duration",
    "maintenance_timezone",
]
# InvalidOption.field → the form field that shows the error.
_ERROR_FIELDS = {
    "action_type": "action_type",
    "forcetime": "forcetime",
    "weight": "weight",
    "maintenance_window": "maintenance_schedule",
    "maintenance_window.schedule": "maintenance_schedule",
    "maintenance_window.duration": "maintenance_duration",
    "maintenance_window.timezone": "maintenance_timezone",
}


class DeploymentOptionsFormMixin(forms.Form):
    action_type = forms.ChoiceField(
        label="Action type",
        choices=Action.ActionType.choices,
        initial=Action.ActionType.FORCED,
        required=False,
        help_text="Forced: install at once. Soft: the device may ask first. Time-forced: soft until "
        "the force time, then forced. Download only: download, never install.",
    )
    forcetime = forms.DateTimeField(
        label="Force time",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        help_text="Time-forced only: from then on the update is forced (admin time zone).",
    )
    weight = forms.IntegerField(
        label="Weight",
        required=False,
        min_value=0,
        max_value=1000,
        help_text="Priority 0-1000 (empty counts as 1000): between rollouts of one feed, the heavier wins.",
    )
    maintenance_schedule = forms.CharField(
        label="Maintenance window schedule",
        required=False,
        max_length=128,
        help_text="Quartz cron with seconds, e.g. <code>0 30 2 ? * *</code> (every day at 02:30:00). "
        "Empty: any time. Outside the window devices download but do not install.",
    )
    maintenance_duration = forms.CharField(
        label="Window duration", required=False, max_length=8, help_text="HH:MM:SS, e.g. 01:00:00."
    )
    maintenance_timezone = forms.CharField(
        label="Window time zone", required=False, max_length=6, help_text="UTC offset, e.g. +02:00."
    )

    def deployment_options(self, cleaned: dict[str, Any]) -> DeploymentOptions | None:
        """Validate the options among ``cleaned``; on a problem add the error and return None."""
        if any(name in self.errors for name in OPTION_FORM_FIELDS):
            return None
        parts = {
            "schedule": cleaned.get("maintenance_schedule") or "",
            "duration": cleaned.get("maintenance_duration") or "",
            "timezone": cleaned.get("maintenance_timezone") or "",
        }
        try:
            return deployment_options_validate(
                action_type=cleaned.get("action_type") or None,
                forcetime=cleaned.get("forcetime"),
                weight=cleaned.get("weight"),
                maintenance_window=parts if any(parts.values()) else None,
            )
        except InvalidOption as error:
            self.add_error(_ERROR_FIELDS.get(error.field), error.message)
        except DomainError as error:
            self.add_error(None, error.message)
        return None


def initial_from(options: DeploymentOptions) -> dict[str, Any]:
    window = options.maintenance_window
    return {
        "action_type": options.action_type,
        "forcetime": options.forcetime,
        "weight": options.weight,
        "maintenance_schedule": window.schedule if window else "",
        "maintenance_duration": window.duration if window else "",
        "maintenance_timezone": window.timezone if window else "",
    }
