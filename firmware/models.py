"""Firmware images the provider uploads, and which version each phone model should run.

An image's bytes live on the `firmware` storage backend (settings.STORAGES), which every app
server shares: the filesystem by default, an object store when configured. Never in the
database and never in memory: an image is up to FIRMWARE_MAX_BYTES (200 MB).

A target names the image a model should run. Targets are set globally, per settings profile,
per organisation and per phone; the most specific one wins (`firmware.targets`).
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import storages
from django.db import models, transaction
from django.db.models import Q

from devices.models import Device
from devices.phone_models import MODEL_CHOICES, get_model
from organisations.models import Organisation, SettingsProfile


def firmware_storage():  # type: ignore[no-untyped-def]  # callable storage: read when used
    return storages["firmware"]


def image_path(image: FirmwareImage, filename: str) -> str:
    """Where an image is stored: by its hash, so two uploads never overwrite each other."""
    return f"firmware/{image.sha256[:2]}/{image.sha256}/{image.file_name}"


class FirmwareImage(models.Model):
    """A Yealink firmware file (.rom) for one model family, or a DECT handset's over-the-air
    image, with its version."""

    class Kind(models.TextChoices):
        PHONE = "phone", "Phone or DECT base"
        HANDSET = "handset", "DECT handset (over the air)"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PHONE)
    version = models.CharField(
        max_length=32,
        help_text="As the phone reports it in its User-Agent, such as 96.86.0.100.",
    )
    # The firmware's first number: the model family (yealink.md §2).
    model_code = models.PositiveIntegerField(editable=False)
    model_names = models.JSONField(
        default=list,
        help_text="The phone models (or, for a handset image, handset models) it is for.",
    )
    file = models.FileField(storage=firmware_storage, upload_to=image_path, max_length=255)
    file_name = models.CharField(max_length=128, editable=False)
    size = models.PositiveBigIntegerField(editable=False)
    sha256 = models.CharField("SHA-256", max_length=64, editable=False)
    notes = models.TextField(blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["kind", "model_code", "-uploaded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "model_code", "version"],
                name="firmware_one_image_per_version",
                violation_error_message="This version is already uploaded for this model family.",
            )
        ]

    def __str__(self) -> str:
        names = ", ".join(self.model_names)
        return f"{self.version} ({names})" if names else self.version

    @property
    def phone_models(self) -> list[str]:
        return [name for name in self.model_names if get_model(name) is not None]


class FirmwareTarget(models.Model):
    """The image `model` should run: everywhere (no scope), or for phones of one settings
    profile, one organisation or one phone. The most specific target wins."""

    model = models.CharField(max_length=32, choices=MODEL_CHOICES)
    image = models.ForeignKey(FirmwareImage, on_delete=models.PROTECT, related_name="targets")
    profile = models.ForeignKey(
        SettingsProfile,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="firmware_targets",
        help_text="Only for phones of this settings profile (theirs, else their organisation's).",
    )
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="firmware_targets",
    )
    device = models.ForeignKey(
        Device,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="firmware_targets",
        verbose_name="phone",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(profile__isnull=False, organisation__isnull=False)
                & ~Q(profile__isnull=False, device__isnull=False)
                & ~Q(organisation__isnull=False, device__isnull=False),
                name="firmware_target_one_scope",
                violation_error_message="A target is for one scope: a profile, an "
                "organisation or a phone.",
            ),
            models.UniqueConstraint(
                fields=["model"],
                condition=Q(profile__isnull=True, organisation__isnull=True, device__isnull=True),
                name="firmware_target_global",
                violation_error_message="This model already has a target for every phone.",
            ),
            models.UniqueConstraint(
                fields=["model", "profile"],
                condition=Q(profile__isnull=False),
                name="firmware_target_profile",
                violation_error_message="This model already has a target in this profile.",
            ),
            models.UniqueConstraint(
                fields=["model", "organisation"],
                condition=Q(organisation__isnull=False),
                name="firmware_target_organisation",
                violation_error_message="This model already has a target in this organisation.",
            ),
            models.UniqueConstraint(
                fields=["model", "device"],
                condition=Q(device__isnull=False),
                name="firmware_target_device",
                violation_error_message="This phone already has a target.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} → {self.image.version} ({self.scope})"

    @property
    def scope(self) -> str:
        if self.device_id:
            return f"phone {self.device}"
        if self.organisation_id:
            return f"organisation {self.organisation}"
        if self.profile_id:
            return f"profile {self.profile}"
        return "every phone"


def remove_stored_file(
    sender: type[FirmwareImage], instance: FirmwareImage, **kwargs: object
) -> None:
    """A deleted image's file goes too, once the deletion is committed (a rolled-back delete
    keeps it)."""
    name, storage = instance.file.name, instance.file.storage
    if name:
        transaction.on_commit(lambda: storage.delete(name))
