"""The software repository: releases made of modules, modules made of artifacts.

hawkBit's model, under our names: a ``Software`` is a release (hawkBit: distribution set) with a
name, version and the hardware it fits; it bundles one or more ``SoftwareModule`` (type ``os``,
``application``, ...), each with zero or more ``Artifact`` files. A ``.swu``/``.raucb`` upload is
a release with one module holding the one parsed package. Modules may be shared by releases, as in
hawkBit.
"""

from __future__ import annotations

from functools import cached_property

from django.db import models
from django.db.models import Q


class ImageFormat(models.TextChoices):
    """What the package parser recognised; raw artifacts have none."""

    SWU = "swu", "SWUpdate (.swu)"
    RAUC = "rauc", "RAUC bundle (.raucb)"


class Software(models.Model):
    """A release (hawkBit: distribution set): what devices are updated to."""

    # Kept on the release for callers written when a software was one package.
    ImageFormat = ImageFormat

    name = models.CharField(max_length=255, blank=True)
    version = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    modules = models.ManyToManyField("software.SoftwareModule", related_name="releases", blank=True)
    compatibility = models.ManyToManyField("devices.Hardware", related_name="software", blank=True)
    # hawkBit's distribution set type: which module types the release must and may hold. Null
    # only for rows written before types existed; they read as the default type (os_app).
    type = models.ForeignKey(
        "software.DistributionSetType",
        on_delete=models.PROTECT,
        related_name="releases",
        null=True,
        blank=True,
    )
    # Soft-deleted (hawkBit): kept because device history or a rollout refers to it, but never
    # offered to a new assignment, rollout or "latest" device.
    deleted = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    # Locked by an operator (hawkBit's locked flag); offering it to a device locks it as well.
    locked = models.BooleanField(default=False)
    updated = models.DateTimeField(auto_now=True)
    tags = models.ManyToManyField("software.ReleaseTag", related_name="releases", blank=True)

    class Meta:
        verbose_name_plural = "software"
        indexes = [models.Index(fields=["version"], name="software_software_version")]

    def __str__(self) -> str:
        return f"{self.name or 'release'} ({self.version})"

    @cached_property
    def package(self) -> Artifact | None:
        """The parsed package of a package release: its first parsed artifact, if any.

        Reads ``modules`` and their ``artifacts`` through ``.all()`` so that a list that prefetched
        them (software.selectors) pays no query per row.
        """
        for module in self.modules.all():
            for artifact in module.artifacts.all():
                if artifact.image_format:
                    return artifact
        return None

    @property
    def kind(self) -> str:
        """What the release is, in a word: its package format, else how many modules it has."""
        package = self.package
        if package is not None:
            return package.get_image_format_display()
        count = len(self.modules.all())
        return f"{count} module{'' if count == 1 else 's'}"


class ReleaseTag(models.Model):
    """An operator's label on releases (hawkBit's distribution set tag)."""

    # hawkBit's NamedEntity and Tag lengths, so every hawkBit tag fits.
    name = models.CharField(max_length=128, unique=True)
    description = models.CharField(max_length=512, blank=True)
    colour = models.CharField(max_length=16, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class SoftwareModuleType(models.Model):
    """hawkBit's software module type; its key is the deployment chunk's ``part``."""

    key = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    # How many modules of this type one release may hold (hawkBit: maxAssignments).
    max_assignments = models.PositiveIntegerField(default=1)
    colour = models.CharField(max_length=16, blank=True)
    # Soft-deleted (hawkBit): modules of this type still exist; no new module may use it.
    deleted = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class DistributionSetType(models.Model):
    """hawkBit's distribution set type: the module types a release must hold and may hold."""

    key = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    colour = models.CharField(max_length=16, blank=True)
    mandatory_types = models.ManyToManyField(
        "software.SoftwareModuleType", related_name="mandatory_in", blank=True
    )
    optional_types = models.ManyToManyField(
        "software.SoftwareModuleType", related_name="optional_in", blank=True
    )
    # Soft-deleted (hawkBit): releases of this type still exist; no new release may use it.
    deleted = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name


class SoftwareModule(models.Model):
    """One installable part of a release: an OS image, an application, a configuration..."""

    type = models.ForeignKey("software.SoftwareModuleType", on_delete=models.PROTECT, related_name="modules")
    name = models.CharField(max_length=255)
    version = models.CharField(max_length=255)
    vendor = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    # hawkBit's flag for artifacts a device must decrypt; shown as chunk "encrypted": true.
    encrypted = models.BooleanField(default=False)
    # Soft-deleted (hawkBit): a release still holds it, so it stays for that release's sake.
    deleted = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    # Locked by an operator (hawkBit's locked flag); offering it to a device locks it as well.
    locked = models.BooleanField(default=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["type", "name", "version"], name="software_module_unique_type_name_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class SoftwareModuleMetadata(models.Model):
    """Key/value pairs on a module; target-visible ones go into the device's deployment chunk."""

    module = models.ForeignKey("software.SoftwareModule", on_delete=models.CASCADE, related_name="metadata")
    key = models.CharField(max_length=128)
    value = models.CharField(max_length=4000, blank=True)
    target_visible = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "module metadata"
        constraints = [models.UniqueConstraint(fields=["module", "key"], name="software_metadata_unique_key")]

    def __str__(self) -> str:
        return self.key


class ReleaseMetadata(models.Model):
    """Key/value pairs on a release (hawkBit: distribution set metadata), for operators' tools."""

    software = models.ForeignKey("software.Software", on_delete=models.CASCADE, related_name="metadata")
    key = models.CharField(max_length=128)
    value = models.CharField(max_length=4000, blank=True)

    class Meta:
        verbose_name_plural = "release metadata"
        constraints = [
            models.UniqueConstraint(fields=["software", "key"], name="software_releasemetadata_unique_key")
        ]

    def __str__(self) -> str:
        return self.key


class Artifact(models.Model):
    """One file of a module: stored (content-addressed) or at a remote URL, hashed at intake."""

    module = models.ForeignKey("software.SoftwareModule", on_delete=models.PROTECT, related_name="artifacts")
    # Either a stored file (content-addressed name in the default storage) or a remote URL.
    file = models.FileField(max_length=512, blank=True)
    url = models.URLField("remote URL", max_length=2048, blank=True)
    filename = models.CharField(max_length=255)
    size = models.BigIntegerField()
    sha1 = models.CharField(max_length=40)
    md5 = models.CharField(max_length=32)
    sha256 = models.CharField(max_length=64)
    # Set when the file is an update package the parser understood; blank for raw artifacts.
    image_format = models.CharField(max_length=8, choices=ImageFormat.choices, blank=True)
    signed = models.BooleanField(default=False)
    # What the parser found (sw-description description, RAUC bundle format, ...).
    metadata = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(file="") & ~Q(url="")) | (~Q(file="") & Q(url="")),
                name="software_artifact_file_xor_url",
            ),
            models.CheckConstraint(
                condition=Q(image_format__in=["", "swu", "rauc"]),
                name="software_artifact_image_format_valid",
            ),
            # A device asks for an artifact by module and file name.
            models.UniqueConstraint(fields=["module", "filename"], name="software_artifact_unique_filename"),
            # The same package uploaded twice is one release.
            models.UniqueConstraint(
                fields=["sha256"], condition=~Q(image_format=""), name="software_artifact_unique_package"
            ),
        ]
        indexes = [models.Index(fields=["sha256"], name="software_artifact_sha256")]

    def __str__(self) -> str:
        return self.filename

    @property
    def is_remote(self) -> bool:
        return bool(self.url)

    @property
    def masked_url(self) -> str:
        """The remote URL as people may see it: passwords and tokens replaced by ***."""
        from software.remote import mask_url

        return mask_url(self.url)
