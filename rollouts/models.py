"""Who gets what: rollouts, the actions they produce and every feedback a device sent."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ActionType(models.TextChoices):
    """hawkBit's action types (ddi.md §1.10): how the device is told to download and install."""

    FORCED = "forced", "Forced"
    SOFT = "soft", "Soft"
    TIMEFORCED = "timeforced", "Time-forced"
    DOWNLOAD_ONLY = "downloadonly", "Download only"


class DeploymentOptionFields(models.Model):
    """How updates are offered (rollouts.options): copied from a rollout or assignment to each Action."""

    action_type = models.CharField(max_length=16, choices=ActionType.choices, default=ActionType.FORCED)
    # timeforced: offered as soft until then, forced from then on.
    forcetime = models.DateTimeField(null=True, blank=True)
    # hawkBit's priority, 0-1000 (none counts as 1000): see rollouts.options.
    weight = models.PositiveSmallIntegerField(null=True, blank=True)
    # Maintenance window: Quartz cron with seconds, HH:mm:ss, UTC offset; all three or none.
    maintenance_schedule = models.CharField(max_length=128, blank=True)
    maintenance_duration = models.CharField(max_length=8, blank=True)
    maintenance_timezone = models.CharField(max_length=6, blank=True)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(action_type__in=["forced", "soft", "timeforced", "downloadonly"]),
                name="rollouts_%(class)s_action_type_valid",
            ),
            models.CheckConstraint(
                condition=~Q(action_type="timeforced") | Q(forcetime__isnull=False),
                name="rollouts_%(class)s_timeforced_has_forcetime",
            ),
            models.CheckConstraint(
                condition=Q(weight__isnull=True) | Q(weight__gte=0, weight__lte=1000),
                name="rollouts_%(class)s_weight_range",
            ),
            models.CheckConstraint(
                condition=Q(maintenance_schedule="", maintenance_duration="", maintenance_timezone="")
                | (~Q(maintenance_schedule="") & ~Q(maintenance_duration="") & ~Q(maintenance_timezone="")),
                name="rollouts_%(class)s_window_all_or_none",
            ),
        ]

    @property
    def maintenance_window(self) -> dict[str, str] | None:
        if not self.maintenance_schedule:
            return None
        return {
            "schedule": self.maintenance_schedule,
            "duration": self.maintenance_duration,
            "timezone": self.maintenance_timezone,
        }


class Rollout(DeploymentOptionFields):
    """Ships one software to the devices of a feed, of a saved query, or both, group by group.

    Its progress is always aggregated from its Actions; there are no counters that can drift.
    Which group a device belongs to is decided by rollouts.selectors.groups from the group's
    query and the id boundary frozen at start, never by rows per device: nothing fans out.
    """

    class Status(models.TextChoices):
        # hawkBit's WAITING_FOR_APPROVAL / APPROVAL_DENIED (tenant setting rollout.approval.enabled).
        WAITING_FOR_APPROVAL = "waiting_for_approval", "Waiting for approval"
        APPROVAL_DENIED = "approval_denied", "Approval denied"
        # hawkBit's READY: created (and approved), not started; with start_at it starts by itself.
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"
        FINISHED = "finished", "Finished"

    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, max_length=512)
    # Which devices in rollout mode it targets: those of ``feed`` ("" = of any feed) that match
    # ``query`` (an RSQL device query, "" = all), and with ``retry_of`` only those whose update in
    # that rollout failed. At least one of the three narrows it (a check constraint).
    feed = models.CharField(max_length=255, blank=True)
    query = models.TextField(blank=True, max_length=4096)
    retry_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="retries"
    )
    software = models.ForeignKey("software.Software", on_delete=models.PROTECT, related_name="rollouts")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.DRAFT)
    # Dynamic: devices that come to match after the start join the last group (hawkBit's dynamic
    # rollouts; today's feed rollouts). Otherwise only devices registered before the start
    # (by id, frozen in the groups' boundaries) are ever offered it.
    dynamic = models.BooleanField(default=True)
    # Scheduled start (hawkBit's startAt): a draft starts by itself once this time has come.
    start_at = models.DateTimeField(null=True, blank=True)
    # Four eyes (rollout.approval.enabled): who approved or denied, and why.
    approval_decided_by = models.CharField(max_length=150, blank=True)
    approval_decided_at = models.DateTimeField(null=True, blank=True)
    approval_remark = models.CharField(max_length=512, blank=True)

    # Safety: pause automatically when failures pile up; None disables a rule.
    pause_on_failure_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    pause_min_results = models.PositiveIntegerField(default=1)
    pause_on_failure_count = models.PositiveIntegerField(null=True, blank=True)
    # At most this many devices of this rollout update at once.
    max_parallel = models.PositiveIntegerField(null=True, blank=True)

    # hawkBit's confirmationRequired: with the confirmation flow on (GOOSEBIT_CONFIRMATION_FLOW),
    # each device's action waits for the device (or its auto-confirm) to confirm it.
    confirmation_required = models.BooleanField(default=True)

    pause_reason = models.TextField(blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            *DeploymentOptionFields.Meta.constraints,
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "waiting_for_approval",
                        "approval_denied",
                        "draft",
                        "running",
                        "paused",
                        "stopped",
                        "finished",
                    ]
                ),
                name="rollouts_rollout_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(feed="") | ~Q(query="") | Q(retry_of__isnull=False),
                name="rollouts_rollout_has_targets",
            ),
            models.CheckConstraint(
                condition=Q(pause_on_failure_percent__isnull=True)
                | Q(pause_on_failure_percent__gte=1, pause_on_failure_percent__lte=100),
                name="rollouts_rollout_failure_percent_range",
            ),
        ]
        indexes = [
            # Every poll of a device in rollout mode looks up the newest rollout of its feed.
            models.Index(fields=["feed", "status", "-created"], name="rollouts_rollout_feed_status"),
        ]

    def __str__(self) -> str:
        return self.name


class RolloutGroup(models.Model):
    """One wave of a rollout: which of its devices, and when the next wave starts or all pause.

    Membership (rollouts.selectors.groups): a targeted device belongs to the first group, in
    ``position`` order, whose ``query`` it matches (if any) and whose ``boundary`` its id does
    not exceed. The size (``target_count`` or ``target_percentage`` of the devices still
    unclaimed by earlier groups and matching ``query``) becomes ``boundary`` at the start: the
    id of the group's last device, so the group is the same set of devices however often asked.
    None means no upper bound (the last group of a dynamic rollout, or a draft's groups).
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        # Its success condition held: the next group started (or the rollout paused after it).
        FINISHED = "finished", "Finished"
        # Its error condition held: the rollout paused ("emergency shutdown").
        ERROR = "error", "Error"

    class SuccessAction(models.TextChoices):
        NEXT_GROUP = "next_group", "Start the next group"
        PAUSE = "pause", "Pause the rollout after this group"

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="groups")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=128)
    description = models.CharField(max_length=512, blank=True)
    query = models.TextField(blank=True, max_length=4096)
    # The group's size: a count, a share of the remaining devices, or neither (all remaining).
    target_count = models.PositiveIntegerField(null=True, blank=True)
    target_percentage = models.FloatField(null=True, blank=True)
    # Success: this share of the group's devices runs the software (100 = all of them).
    success_threshold = models.PositiveSmallIntegerField(default=100)
    success_action = models.CharField(
        max_length=16, choices=SuccessAction.choices, default=SuccessAction.NEXT_GROUP
    )
    # Error ("emergency shutdown"): this share failed, or this many; the rollout pauses.
    error_threshold = models.PositiveSmallIntegerField(null=True, blank=True)
    error_count = models.PositiveIntegerField(null=True, blank=True)
    # None: the rollout's setting.
    confirmation_required = models.BooleanField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    boundary = models.BigIntegerField(null=True, blank=True)
    # The group's device count when it was frozen at the start (hawkBit's totalTargets then).
    frozen_total = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["rollout", "position"]
        constraints = [
            models.UniqueConstraint(fields=["rollout", "position"], name="rollouts_group_position_unique"),
            models.CheckConstraint(
                condition=Q(status__in=["scheduled", "running", "finished", "error"]),
                name="rollouts_group_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(success_action__in=["next_group", "pause"]),
                name="rollouts_group_success_action_valid",
            ),
            models.CheckConstraint(
                condition=Q(success_threshold__gte=1, success_threshold__lte=100),
                name="rollouts_group_success_threshold_range",
            ),
            models.CheckConstraint(
                condition=Q(error_threshold__isnull=True)
                | Q(error_threshold__gte=1, error_threshold__lte=100),
                name="rollouts_group_error_threshold_range",
            ),
            models.CheckConstraint(
                condition=Q(target_percentage__isnull=True)
                | Q(target_percentage__gt=0, target_percentage__lte=100),
                name="rollouts_group_percentage_range",
            ),
            models.CheckConstraint(
                condition=Q(target_count__isnull=True) | Q(target_percentage__isnull=True),
                name="rollouts_group_count_or_percentage",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Action(DeploymentOptionFields):
    """One attempt to bring one device to one software: the DDI actionId."""

    ActionType = ActionType

    class Status(models.TextChoices):
        # Labels are the update vocabulary of README's glossary ("Words for update outcomes").
        PENDING = "pending", "Waiting"
        # hawkBit's WAIT_FOR_CONFIRMATION: the update is held until the device confirms it.
        WAIT_FOR_CONFIRMATION = "wait_for_confirmation", "Waiting for confirmation"
        RUNNING = "running", "In progress"
        CANCELING = "canceling", "Canceling"
        CANCELED = "canceled", "Canceled"
        FINISHED = "finished", "Succeeded"
        ERROR = "error", "Failed"

    class Reason(models.TextChoices):
        ROLLOUT = "rollout", "Rollout"
        LATEST = "latest", "Latest"
        ASSIGNED = "assigned", "Assigned"
        # A saved filter's auto-assignment (DeviceFilter): its own reason, so history tells it
        # from an operator's explicit assignment, which outranks it.
        AUTO_ASSIGNED = "auto_assigned", "Auto-assigned by a saved filter"
        FORCED = "forced", "Forced by an operator"

    ACTIVE_STATUSES = (Status.PENDING, Status.WAIT_FOR_CONFIRMATION, Status.RUNNING, Status.CANCELING)
    # Not started by the device yet: an operator cancel closes these at once.
    UNSTARTED_STATUSES = (Status.PENDING, Status.WAIT_FOR_CONFIRMATION)

    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE, related_name="actions")
    software = models.ForeignKey("software.Software", on_delete=models.PROTECT, related_name="actions")
    rollout = models.ForeignKey(
        "rollouts.Rollout",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="actions",
    )
    rollout_group = models.ForeignKey(
        "rollouts.RolloutGroup",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="actions",
    )
    reason = models.CharField(max_length=16, choices=Reason.choices)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.PENDING)
    # The assignment or rollout asked for the device's consent (hawkBit's confirmationRequired).
    confirmation_required = models.BooleanField(default=False)
    progress = models.PositiveSmallIntegerField(null=True, blank=True)
    last_code = models.IntegerField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            *DeploymentOptionFields.Meta.constraints,
            models.UniqueConstraint(
                fields=["device"],
                condition=Q(status__in=["pending", "wait_for_confirmation", "running", "canceling"]),
                name="rollouts_action_one_active_per_device",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "pending",
                        "wait_for_confirmation",
                        "running",
                        "canceling",
                        "canceled",
                        "finished",
                        "error",
                    ]
                ),
                name="rollouts_action_status_valid",
            ),
        ]
        indexes = [
            # Rollout statistics aggregate actions per rollout and status.
            models.Index(fields=["rollout", "status"], name="rollouts_action_rollout_status"),
            # A device's history, newest first.
            models.Index(fields=["device", "-created"], name="rollouts_action_device_created"),
        ]

    def __str__(self) -> str:
        return f"action {self.pk} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def can_be_forced(self) -> bool:
        """An open soft or time-forced update an operator may switch to forced (action_force)."""
        return self.status in (self.Status.PENDING, self.Status.RUNNING) and self.action_type in (
            ActionType.SOFT,
            ActionType.TIMEFORCED,
        )


class ActionStatus(models.Model):
    """Every feedback a device sent, plus the server's own notes: the update log."""

    class Execution(models.TextChoices):
        # What DDI devices send (ddi.md §1.4).
        CLOSED = "closed", "Closed"
        PROCEEDING = "proceeding", "Proceeding"
        CANCELED = "canceled", "Canceled"
        SCHEDULED = "scheduled", "Scheduled"
        REJECTED = "rejected", "Rejected"
        RESUMED = "resumed", "Resumed"
        DOWNLOADED = "downloaded", "Downloaded"
        DOWNLOAD = "download", "Download"
        # What the server records.
        RETRIEVED = "retrieved", "Retrieved"
        CANCELING = "canceling", "Cancel requested"
        # The confirmation channel (ddi.md §1.8): the server asks, the device answers.
        WAITING = "waiting", "Waiting for confirmation"
        CONFIRMED = "confirmed", "Confirmed"
        DENIED = "denied", "Denied"

    class Finished(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        NONE = "none", "None"

    class Source(models.TextChoices):
        DEVICE = "device", "Device"
        SERVER = "server", "Server"

    class Channel(models.TextChoices):
        DEPLOYMENT = "deployment", "Deployment"
        CANCEL = "cancel", "Cancel"
        CONFIRMATION = "confirmation", "Confirmation"

    id = models.BigAutoField(primary_key=True)
    action = models.ForeignKey("rollouts.Action", on_delete=models.CASCADE, related_name="statuses")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.DEVICE)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.DEPLOYMENT)
    execution = models.CharField(max_length=16, choices=Execution.choices)
    finished = models.CharField(max_length=8, choices=Finished.choices, default=Finished.NONE)
    progress = models.PositiveSmallIntegerField(null=True, blank=True)
    code = models.IntegerField(null=True, blank=True)
    details = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "action statuses"
        indexes = [models.Index(fields=["action", "id"], name="rollouts_status_action_id")]

    def __str__(self) -> str:
        return f"{self.execution}/{self.finished}"


class DeviceFilter(models.Model):
    """A saved device query (rollouts.selectors.device_queries), optionally auto-assigning a release.

    hawkBit's target filter query. With ``auto_assign_software`` set, every device in rollout or
    latest mode that matches, now or later, is offered that release on its next poll
    (rollouts.selectors.targets): nothing is fanned out when the filter is saved.
    """

    class AutoAssignStatus(models.TextChoices):
        NONE = "none", "No auto-assignment"
        WAITING_FOR_APPROVAL = "waiting_for_approval", "Waiting for approval"
        ACTIVE = "active", "Active"
        DENIED = "denied", "Denied"

    name = models.CharField(max_length=128, unique=True)
    # Validated by compiling it, in rollouts.services.filters (the model cannot import the fields).
    query = models.TextField(max_length=4096)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    created_by = models.CharField(max_length=150, blank=True)
    updated_by = models.CharField(max_length=150, blank=True)

    auto_assign_software = models.ForeignKey(
        "software.Software",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="auto_assigning_filters",
    )
    # rollouts.options.DeploymentOptions.as_json: action type, forcetime, weight, window.
    auto_assign_options = models.JSONField(default=dict, blank=True)
    auto_assign_confirmation_required = models.BooleanField(default=True)
    auto_assign_status = models.CharField(
        max_length=24, choices=AutoAssignStatus.choices, default=AutoAssignStatus.NONE
    )
    # Who set the auto-assignment and who approved or denied it (four eyes: never the same).
    auto_assign_set_by = models.CharField(max_length=150, blank=True)
    auto_assign_set_at = models.DateTimeField(null=True, blank=True)
    auto_assign_decided_by = models.CharField(max_length=150, blank=True)
    auto_assign_decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # An auto-assignment status other than "none" needs a release, and "none" has none.
            models.CheckConstraint(
                condition=Q(auto_assign_status="none", auto_assign_software__isnull=True)
                | (~Q(auto_assign_status="none") & Q(auto_assign_software__isnull=False)),
                name="rollouts_devicefilter_auto_assign_has_software",
            ),
        ]

    def __str__(self) -> str:
        return self.name
