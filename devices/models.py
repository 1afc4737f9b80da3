"""The device registry: who a device is and what it last told us."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from goosebit_project.lib.tokens import token_state


class Hardware(models.Model):
    """A board model and revision; devices have one, software lists the ones it fits."""

    model = models.CharField(max_length=255)
    revision = models.CharField(max_length=255, default="default")

    class Meta:
        verbose_name_plural = "hardware"
        constraints = [
            models.UniqueConstraint(
                fields=["model", "revision"], name="devices_hardware_unique_model_revision"
            )
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.revision}"


class DeviceTag(models.Model):
    """An operator's label on devices (hawkBit's target tag), to find and group them."""

    # hawkBit's NamedEntity and Tag lengths, so every hawkBit tag fits.
    name = models.CharField(max_length=128, unique=True)
    description = models.CharField(max_length=512, blank=True)
    colour = models.CharField(max_length=16, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Device(models.Model):
    class UpdateMode(models.TextChoices):
        ROLLOUT = "rollout", "Rollout (follows its feed)"
        LATEST = "latest", "Latest compatible software"
        ASSIGNED = "assigned", "Assigned software"
        PINNED = "pinned", "Pinned (no updates)"

    class State(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        REGISTERED = "registered", "Registered"
        # Labels are the update vocabulary of README's glossary ("Words for update outcomes").
        PENDING = "pending", "Waiting"
        # Its update waits for the device's consent (hawkBit's WAIT_FOR_CONFIRMATION).
        WAIT_FOR_CONFIRMATION = "wait_for_confirmation", "Waiting for confirmation"
        RUNNING = "running", "In progress"
        FINISHED = "finished", "Succeeded"
        ERROR = "error", "Failed"
        CANCELING = "canceling", "Canceling"
        # Its last update succeeded, but it now reports an older version (e.g. the bootloader fell
        # back to the other slot): not offered again until an operator retries, like a failure.
        ROLLED_BACK = "rolled_back", "Rolled back"

    # The hawkBit controllerId; DDI allows up to 256 characters.
    controller_id = models.CharField("device id", max_length=256, unique=True)
    name = models.CharField(max_length=255, blank=True)
    # hawkBit's target description: the operator's note about the device.
    description = models.CharField(max_length=512, blank=True)
    # hawkBit's target address as an operator gave it (a URI); a polling device's own is http://<last_ip>.
    address = models.CharField(max_length=512, blank=True)
    hardware = models.ForeignKey(
        "devices.Hardware",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="devices",
    )
    # Every configData key the device sent, kept verbatim.
    attributes = models.JSONField(default=dict, blank=True)
    sw_version = models.CharField("installed version", max_length=255, blank=True)
    feed = models.CharField(max_length=255, default="default", blank=True)
    update_mode = models.CharField(max_length=16, choices=UpdateMode.choices, default=UpdateMode.ROLLOUT)
    assigned_software = models.ForeignKey(
        "software.Software",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_devices",
    )
    # How the assignment is offered (rollouts.options.DeploymentOptions.as_json): action type,
    # forcetime, weight, maintenance window. Kept here for actions created after the assignment
    # (after a retry, or once the device confirmed the cancel of its previous update).
    assignment_options = models.JSONField(default=dict, blank=True)
    # hawkBit's confirmationRequired for the assignment: with the confirmation flow on, its
    # action waits for the device to confirm it.
    assigned_confirmation_required = models.BooleanField(default=True)
    # Set by an operator to retry after a failure or to reinstall the same version.
    force_update = models.BooleanField(default=False)
    # The newest finished action whose software the device runs: hawkBit's installedBase.
    installed_action = models.ForeignKey(
        "rollouts.Action",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    # A denormalised summary of the current Action so that device lists stay cheap.
    state = models.CharField(max_length=32, choices=State.choices, default=State.UNKNOWN)
    progress = models.PositiveSmallIntegerField(null=True, blank=True)

    last_seen = models.DateTimeField(null=True, blank=True)
    last_ip = models.GenericIPAddressField("last IP address", null=True, blank=True)
    # The device's TargetToken (goosebit_project/lib/tokens.py): a keyed hash that every DDI
    # request checks, and the token encrypted for operators with devices.view_device_token. Keys
    # live in the settings only. Rows from before hold an unsalted SHA-256 and no encrypted token
    # until the device next authenticates.
    token_hash = models.CharField(max_length=100, blank=True, editable=False)
    token_encrypted = models.TextField(blank=True, editable=False)
    # hawkBit's requestControllerAttributes: offer the configData link on the next poll.
    request_attributes = models.BooleanField(default=True)

    # hawkBit's auto-confirmation: while active, every update that needs the device's consent
    # is confirmed at once in its name (set by the device through DDI or by an operator).
    auto_confirm = models.BooleanField("auto-confirm", default=False)
    auto_confirm_initiator = models.CharField(max_length=64, blank=True)
    auto_confirm_remark = models.CharField(max_length=512, blank=True)
    auto_confirm_activated_at = models.DateTimeField(null=True, blank=True)

    tags = models.ManyToManyField("devices.DeviceTag", related_name="devices", blank=True)

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("view_device_token", "Can view device tokens")]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    state__in=[
                        "unknown",
                        "registered",
                        "pending",
                        "wait_for_confirmation",
                        "running",
                        "finished",
                        "error",
                        "canceling",
                        "rolled_back",
                    ]
                ),
                name="devices_device_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(update_mode__in=["rollout", "latest", "assigned", "pinned"]),
                name="devices_device_update_mode_valid",
            ),
        ]
        indexes = [
            # Rollout statistics and previews count the devices of a feed in rollout mode.
            models.Index(fields=["feed", "update_mode"], name="devices_device_feed_mode"),
            # The global concurrency cap counts devices that are updating.
            models.Index(fields=["state"], name="devices_device_state"),
        ]

    def __str__(self) -> str:
        return self.name or self.controller_id

    @property
    def has_token(self) -> bool:
        return bool(self.token_hash)

    @property
    def token_state(self) -> str:
        """none, readable, legacy (not readable yet) or unreadable (keys changed): TokenState."""
        return token_state(self.token_hash, self.token_encrypted)


class DeviceMetadata(models.Model):
    """One operator-owned key/value note on a device (hawkBit's target metadata).

    Unlike ``Device.attributes`` (what the device reports about itself), these belong to the
    operators: the device never sees nor changes them.
    """

    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE, related_name="metadata")
    key = models.CharField(max_length=128)
    value = models.CharField(max_length=4000, blank=True)

    class Meta:
        verbose_name_plural = "device metadata"
        constraints = [
            models.UniqueConstraint(fields=["device", "key"], name="devices_devicemetadata_unique_key")
        ]

    def __str__(self) -> str:
        return self.key


class TenantConfiguration(models.Model):
    """One runtime tenant setting an operator changed (hawkBit's TenantConfiguration).

    A key without a row has its default from the environment; devices.tenant_config knows the
    keys, their validation and defaults. Deleting the row resets the key to its default.
    """

    # hawkBit's key name, e.g. "pollingTime" or "authentication.gatewaytoken.key".
    key = models.CharField(max_length=128, unique=True)
    value = models.JSONField()
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)
    last_modified_at = models.DateTimeField()
    last_modified_by = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "tenant setting"
        verbose_name_plural = "tenant settings"
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class TenantConfigurationChange(models.Model):
    """Who changed or reset which tenant setting, and when (``value`` is None for a reset)."""

    key = models.CharField(max_length=128)
    value = models.JSONField(null=True, blank=True)
    changed_at = models.DateTimeField()
    changed_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["key", "-changed_at"], name="devices_tcc_key_changed")]

    def __str__(self) -> str:
        return f"{self.key} at {self.changed_at}"
