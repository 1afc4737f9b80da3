"""The rollout admin's form: targets, software, groups and safety settings, validated by the
services' own rules (a dry run of rollout_create) so every error shows on its field, never as a
500. A new rollout is previewed (devices reached, per group) before it is created."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse

from goosebit_project.lib.errors import DomainError
from goosebit_project.lib.versions import Version
from rollouts import selectors, services
from rollouts.admin_groups import RolloutTargetsAndGroupsMixin, canary_error_field
from rollouts.forms import DeploymentOptionsFormMixin
from rollouts.models import Rollout

if TYPE_CHECKING:
    from software.models import Software

SAFETY_FIELDS = ["pause_on_failure_percent", "pause_min_results", "pause_on_failure_count", "max_parallel"]
# What the form calls each safety setting; errors name the setting by this label, never by field.
SAFETY_LABELS = {
    "pause_on_failure_percent": "Pause after failures (%)",
    "pause_min_results": "Judge the percentage after (devices)",
    "pause_on_failure_count": "Pause after failed devices",
    "max_parallel": "Max parallel updates",
}


def _safety_field(name: str, *, required: bool, maximum: int, empty: str) -> forms.IntegerField:
    """A safety setting's input: min=1 in the browser too (0 is never accepted by the service)."""
    label = SAFETY_LABELS[name]
    named = label.replace("%", "%%")  # Django %-formats validator messages with their params
    at_least = f"{named} must be at least 1" + (f"; {empty}" if empty else "") + "."
    return forms.IntegerField(
        label=label,
        required=required,
        min_value=1,
        max_value=maximum,
        error_messages={
            "min_value": at_least,
            "max_value": f"{named} must be at most {maximum}.",
            "invalid": f"{named} must be a whole number.",
            "required": f"{named} is required (at least 1).",
        },
    )


# The add form's confirmation: set from the preview page, valid only for what it previewed.
CONFIRM_FIELD = "_confirmed"


def rollout_preview_context(*, feed: str, software, exclude: Rollout | None = None) -> dict:
    """What an operator checks before a rollout reaches devices: who gets it, who it takes over."""
    holders = (
        Rollout.objects.filter(
            feed=feed,
            status__in=selectors.FEED_HOLDING_STATUSES,
            software__compatibility__in=software.compatibility.values("pk"),
        )
        .select_related("software")
        .distinct()
    )
    if exclude is not None:
        holders = holders.exclude(pk=exclude.pk)
    return {
        "preview": selectors.rollout_preview(feed=feed, software=software),
        "holders": list(holders.order_by("-created")[:10]),
        "preview_feed_url": reverse("admin:devices_device_changelist") + f"?feed={feed}",
    }


class _DryRun(Exception):
    """Rolls the preview's trial rollout back."""


class RolloutForm(RolloutTargetsAndGroupsMixin, DeploymentOptionsFormMixin, forms.ModelForm):
    """Validates with the services' own rules so errors show on the form, not as a 500.

    A new rollout is shown with a preview of the devices it reaches before it is created: the
    first submit renders the preview, the second (carrying CONFIRM_FIELD for the same targets,
    software, groups and start choice) creates it.
    """

    start = forms.BooleanField(
        required=False, help_text="Start at once. Otherwise the rollout is saved as a draft to start later."
    )
    pause_on_failure_percent = _safety_field(
        "pause_on_failure_percent", required=False, maximum=100, empty="leave it empty to turn the rule off"
    )
    pause_min_results = _safety_field(
        "pause_min_results", required=True, maximum=services.MAX_SETTING, empty=""
    )
    pause_on_failure_count = _safety_field(
        "pause_on_failure_count",
        required=False,
        maximum=services.MAX_SETTING,
        empty="leave it empty to turn the rule off",
    )
    max_parallel = _safety_field(
        "max_parallel", required=False, maximum=services.MAX_SETTING, empty="leave it empty for no limit"
    )

    class Meta:
        model = Rollout
        fields = ["name", "feed", "software", "confirmation_required", *SAFETY_FIELDS]
        help_texts = {
            "confirmation_required": "With the confirmation flow on (GOOSEBIT_CONFIRMATION_FLOW), each "
            "device's update waits until the device confirms it (or its auto-confirm does).",
            "feed": "Devices following this feed (in rollout mode) receive the software. Empty: "
            "every device in rollout mode matching the device query.",
            "pause_on_failure_percent": "Pause once this % of finished devices failed. Empty: off.",
            "pause_min_results": "Judge the percentage only after this many devices finished.",
            "pause_on_failure_count": "Pause once this many devices failed. Empty: off.",
            "max_parallel": "At most this many devices of this rollout update at once. Empty: no limit.",
        }

    preview_context: dict | None = None
    confirm_token = ""
    will_start = False
    group_previews: list[dict] | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = cast("forms.ModelChoiceField[Software] | None", self.fields.get("software"))
        if field is not None:
            # A deleted release is never rolled out again (a rollout that has one keeps showing it).
            # A field made from the ForeignKey always has its queryset.
            offered = cast("QuerySet[Software]", field.queryset).filter(
                Q(deleted=False) | Q(pk=self.instance.software_id)
            )
            field.queryset = offered
            # Highest version first, each with the boards it fits: what an operator chooses by.
            software = sorted(
                offered.prefetch_related("compatibility"),
                key=lambda item: (Version(item.version), item.created),
                reverse=True,
            )
            field.choices = [("", "---------")] + [
                (
                    item.pk,
                    f"{item.version} — {item.name} ("
                    + (", ".join(str(board) for board in item.compatibility.all()) or "no hardware")
                    + ")",
                )
                for item in software
            ]

    def clean(self) -> dict:
        cleaned = cast(dict[str, Any], super().clean())
        safety = {field: cleaned.get(field, getattr(self.instance, field)) for field in SAFETY_FIELDS}
        if all(field not in self.errors for field in SAFETY_FIELDS):
            try:
                services.rollout_validate_safety(**safety)
            except services.InvalidSetting as error:
                # On the field it names, by its label: that also spares the user the model's
                # generic "constraint violated" message for the same value.
                self.add_error(error.field, f"{SAFETY_LABELS[error.field]} {error.problem}.")
        if self.instance.pk is None:
            cleaned["deployment_options"] = self.deployment_options(cleaned)
            if "groups_mode" not in self.data:
                # A post made without the groups part of the form (a script of the older form)
                # gets what the form offers: dynamic, one group of everyone.
                cleaned["dynamic"] = True
            cleaned["groups"] = self.group_specs(cleaned)
            if not (cleaned.get("feed") or "").strip() and not (cleaned.get("query") or "").strip():
                self.add_error("feed", "Give a feed or a device query (or both).")
        if self.instance.pk is None and not self.errors:
            self._dry_run(cleaned)
        if self.instance.pk is None and not self.errors:
            self._require_confirmation(cleaned)
        return cleaned

    def create_arguments(self, cleaned: dict) -> dict[str, Any]:
        """rollout_create's arguments from the form (created_by and start: the caller's)."""
        return {
            "name": cleaned["name"],
            "feed": cleaned.get("feed") or "",
            "query": cleaned.get("query") or "",
            "description": cleaned.get("description") or "",
            "software": cleaned["software"],
            "groups": cleaned.get("groups"),
            "dynamic": bool(cleaned.get("dynamic")),
            "start_at": cleaned.get("start_at"),
            "confirmation_required": cleaned.get("confirmation_required", True),
            "options": cleaned.get("deployment_options"),
            **{field: cleaned.get(field) for field in SAFETY_FIELDS},
        }

    def _dry_run(self, cleaned: dict) -> None:
        """Create the rollout and roll it back: the service's checks (query, groups, targets)
        land on their fields now, and the groups are previewed as they would be filled."""
        arguments = {**self.create_arguments(cleaned), "start_at": None}  # no schedule broadcast
        try:
            with transaction.atomic():
                trial = services.rollout_create(**arguments)
                self.group_previews = [
                    preview.as_dict() for preview in selectors.rollout_group_preview(rollout=trial)
                ]
                raise _DryRun
        except _DryRun:
            pass
        except services.InvalidSetting as error:
            field = SAFETY_LABELS.get(error.field) and error.field or canary_error_field(error.field)
            self.add_error(field, error.problem if field else error.message)
        except DomainError as error:
            self.add_error(None, error.message)

    def _require_confirmation(self, cleaned: dict) -> None:
        feed = (cleaned.get("feed") or "").strip()
        query = (cleaned.get("query") or "").strip()
        software = cleaned.get("software")
        if software is None:
            return
        self.will_start = bool(cleaned.get("start"))
        self.confirm_token = f"{feed}|{software.pk}|{int(self.will_start)}"
        groups = cleaned.get("groups")
        if query or groups is not None or not cleaned.get("dynamic"):
            # What else shapes who gets it when: a changed query or groups ask for a new preview.
            shape = repr((query, groups, bool(cleaned.get("dynamic")))).encode()
            self.confirm_token += "|" + hashlib.sha256(shape).hexdigest()[:16]
        if self.data.get(CONFIRM_FIELD) == self.confirm_token:
            return
        # The feed's preview (incompatible and not-following devices, rollouts taken over) when
        # the feed alone decides; the per-group preview always.
        self.preview_context = (
            rollout_preview_context(feed=feed, software=software) if feed and not query else {}
        )
        self.preview_context["group_previews"] = self.group_previews
        raise forms.ValidationError(
            "Check which devices this rollout reaches, then confirm below.", code="confirm"
        )
