"""The software repository: update packages, where they are stored and what they fit."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Software(models.Model):
    class ImageFormat(models.TextChoices):
        SWU = "swu", "SWUpdate (.swu)"
        RAUC = "rauc", "RAUC bundle (.raucb)"

    version = models.CharField(max_length=255)
    image_format = models.CharField(max_length=8, choices=ImageFormat.choices)
    # Either a stored file (content-addressed name in the default storage) or a remote URL.
    file = models.FileField(max_length=512, blank=True)
    url = models.URLField("remote URL", max_length=2048, blank=True)
    filename = models.CharField(max_length=255)
    size = models.BigIntegerField()
    sha1 = models.CharField(max_length=40)
    md5 = models.CharField(max_length=32)
    sha256 = models.CharField(max_length=64)
    signed = models.BooleanField(default=False)
    compatibility = models.ManyToManyField("devices.Hardware", related_name="software", blank=True)
    # What the parser found (sw-description description, RAUC bundle format, ...).
    metadata = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "software"
        constraints = [
            models.CheckConstraint(
                condition=(Q(file="") & ~Q(url="")) | (~Q(file="") & Q(url="")),
                name="software_software_file_xor_url",
            ),
            models.CheckConstraint(
                condition=Q(image_format__in=["swu", "rauc"]),
                name="software_software_image_format_valid",
            ),
            # The same package uploaded twice is one software.
            models.UniqueConstraint(fields=["sha256"], name="software_software_unique_sha256"),
        ]
        indexes = [models.Index(fields=["version"], name="software_software_version")]

    def __str__(self) -> str:
        return f"{self.filename} ({self.version})"

    @property
    def is_remote(self) -> bool:
        return bool(self.url)

    @property
    def masked_url(self) -> str:
        """The remote URL as people may see it: passwords and tokens replaced by ***."""
        from software.remote import mask_url

        return mask_url(self.url)
