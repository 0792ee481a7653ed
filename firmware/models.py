"""Firmware images the provider uploads, and which version each phone model should run.

An image's bytes live on the `firmware` storage backend (settings.STORAGES), which every app
server shares: the filesystem by default, an object store when configured. Never in the
database and never in memory: an image is up to FIRMWARE_MAX_BYTES (200 MB).

A target names the image a model should run. Targets are set globally, per settings profile,
per organisation and per phone; the most specific one wins (`firmware.targets`).
"""

from __future__ import annotations

import itertools
import math

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Q
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from devices.models import Device
from devices.phone_models import MODEL_CHOICES, get_model
from firmware.validation import HANDSET_MODELS
from organisations.models import Organisation, SettingsProfile


def _handset_label(name: str) -> str:
    return gettext("%(model)s (handset)") % {"model": name}


handset_label = lazy(_handset_label, str)
# A target is for a phone model or, for the DECT bases that send it over the air, a handset.
TARGET_MODEL_CHOICES = [*MODEL_CHOICES, *((name, handset_label(name)) for name in HANDSET_MODELS)]


def firmware_storage():  # type: ignore[no-untyped-def]  # callable storage: read when used
    return storages["firmware"]


def image_path(image: FirmwareImage, filename: str) -> str:
    """Where an image is stored: by its hash, so two uploads never overwrite each other."""
    return f"firmware/{image.sha256[:2]}/{image.sha256}/{image.file_name}"


class FirmwareImage(models.Model):
    """A Yealink firmware file (.rom) for one model family, or a DECT handset's over-the-air
    image, with its version."""

    class Kind(models.TextChoices):
        PHONE = "phone", _("Phone or DECT base")
        HANDSET = "handset", _("DECT handset (over the air)")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.PHONE)
    version = models.CharField(
        _("version"),
        max_length=32,
        help_text=_("As the phone reports it in its User-Agent, such as 96.86.0.100."),
    )
    # The firmware's first number: the model family (yealink.md §2).
    model_code = models.PositiveIntegerField(_("model family"), editable=False)
    model_names = models.JSONField(
        _("models"),
        default=list,
        help_text=_("The phone models (or, for a handset image, handset models) it is for."),
    )
    file = models.FileField(
        _("file"), storage=firmware_storage, upload_to=image_path, max_length=255
    )
    file_name = models.CharField(_("file name"), max_length=128, editable=False)
    size = models.PositiveBigIntegerField(_("size"), editable=False)
    sha256 = models.CharField("SHA-256", max_length=64, editable=False)
    notes = models.TextField(_("notes"), blank=True)
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("uploaded by"),
    )

    class Meta:
        ordering = ["kind", "model_code", "-uploaded_at"]
        verbose_name = _("firmware image")
        verbose_name_plural = _("firmware images")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "model_code", "version"],
                name="firmware_one_image_per_version",
                violation_error_message=_(
                    "This version is already uploaded for this model family."
                ),
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

    model = models.CharField(_("model"), max_length=32, choices=TARGET_MODEL_CHOICES)
    image = models.ForeignKey(
        FirmwareImage,
        on_delete=models.PROTECT,
        related_name="targets",
        verbose_name=_("image"),
    )
    profile = models.ForeignKey(
        SettingsProfile,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="firmware_targets",
        verbose_name=_("settings profile"),
        help_text=_(
            "Only for phones of this settings profile (theirs, else their organisation's)."
        ),
    )
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="firmware_targets",
        verbose_name=_("organisation"),
    )
    device = models.ForeignKey(
        Device,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="firmware_targets",
        verbose_name=_("phone"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["model"]
        verbose_name = _("firmware target")
        verbose_name_plural = _("firmware targets")
        constraints = [
            models.CheckConstraint(
                condition=~Q(profile__isnull=False, organisation__isnull=False)
                & ~Q(profile__isnull=False, device__isnull=False)
                & ~Q(organisation__isnull=False, device__isnull=False),
                name="firmware_target_one_scope",
                violation_error_message=_(
                    "A target is for one scope: a profile, an organisation or a phone."
                ),
            ),
            models.UniqueConstraint(
                fields=["model"],
                condition=Q(profile__isnull=True, organisation__isnull=True, device__isnull=True),
                name="firmware_target_global",
                violation_error_message=_("This model already has a target for every phone."),
            ),
            models.UniqueConstraint(
                fields=["model", "profile"],
                condition=Q(profile__isnull=False),
                name="firmware_target_profile",
                violation_error_message=_("This model already has a target in this profile."),
            ),
            models.UniqueConstraint(
                fields=["model", "organisation"],
                condition=Q(organisation__isnull=False),
                name="firmware_target_organisation",
                violation_error_message=_("This model already has a target in this organisation."),
            ),
            models.UniqueConstraint(
                fields=["model", "device"],
                condition=Q(device__isnull=False),
                name="firmware_target_device",
                violation_error_message=_("This phone already has a target."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} → {self.image.version} ({self.scope})"

    @property
    def scope(self) -> str:
        if self.device_id:
            return gettext("phone %(phone)s") % {"phone": self.device}
        if self.organisation_id:
            return gettext("organisation %(organisation)s") % {"organisation": self.organisation}
        if self.profile_id:
            return gettext("profile %(profile)s") % {"profile": self.profile}
        return gettext("every phone")


def parse_waves(text: str) -> list[int]:
    """ "1, 10, 50, 100" -> [1, 10, 50, 100]: each wave's share of the rollout's phones,
    counted from the start, rising, the last 100."""
    try:
        waves = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise ValidationError(
            _("Give the waves as percentages separated by commas, such as 1, 10, 50, 100."),
            code="waves",
        ) from None
    if not waves or waves[-1] != 100:
        raise ValidationError(_("The last wave must be 100 (every phone)."), code="waves")
    if any(not 1 <= share <= 100 for share in waves):
        raise ValidationError(_("Each wave is a percentage from 1 to 100."), code="waves")
    if any(later <= earlier for earlier, later in itertools.pairwise(waves)):
        raise ValidationError(
            _("Each wave must take more phones than the one before: %(waves)s."),
            params={"waves": text},
            code="waves",
        )
    return waves


def validate_waves(text: str) -> None:
    parse_waves(text)


class Rollout(models.Model):
    """Moves the phones in its scope to an image, wave by wave (firmware.rollouts).

    Each wave's phones are offered the image (their MAC file names it); a wave is done when
    its phones come back reporting the image's version, and the next opens. When more than
    `halt_share` % of the phones that asked during a wave have not come back within
    `wave_minutes`, the rollout halts by itself and the provider is told."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        HALTED = "halted", _("Halted")
        COMPLETED = "completed", _("Completed")
        ROLLED_BACK = "rolled_back", _("Rolled back")

    name = models.CharField(_("name"), max_length=100)
    image = models.ForeignKey(
        FirmwareImage,
        on_delete=models.PROTECT,
        related_name="rollouts",
        limit_choices_to={"kind": FirmwareImage.Kind.PHONE},
        verbose_name=_("image"),
    )
    model_names = models.JSONField(
        _("models"),
        default=list,
        blank=True,
        help_text=_("Empty: every phone model the image is for."),
    )
    organisations = models.ManyToManyField(
        Organisation,
        blank=True,
        related_name="firmware_rollouts",
        verbose_name=_("organisations"),
        help_text=_("Empty: every organisation (but those holding back their firmware)."),
    )
    percentage = models.PositiveSmallIntegerField(
        _("share of the phones in scope (%)"),
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    waves = models.CharField(
        _("waves"),
        max_length=100,
        default="1, 10, 50, 100",
        validators=[validate_waves],
        help_text=_("Each wave's share of the rollout's phones, counted from the start (%)."),
    )
    halt_share = models.PositiveSmallIntegerField(
        _("halt above (%)"),
        default=10,
        validators=[MaxValueValidator(100)],
        help_text=_(
            "The rollout halts when more than this share of a wave's phones that asked "
            "for their file have not come back on the new version within the wave's time."
        ),
    )
    wave_minutes = models.PositiveIntegerField(
        _("time per wave (minutes)"),
        default=120,
        validators=[MinValueValidator(5)],
        help_text=_(
            "Phones ask every provisioning interval (30 minutes by default), then "
            "download and restart: give a wave several intervals."
        ),
    )
    state = models.CharField(
        _("state"), max_length=12, choices=State.choices, default=State.DRAFT, editable=False
    )
    wave = models.PositiveSmallIntegerField(_("open wave"), default=0, editable=False)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True, editable=False)
    wave_opened_at = models.DateTimeField(
        _("wave opened at"), null=True, blank=True, editable=False
    )
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True, editable=False)
    halt_reason = models.TextField(_("halt reason"), blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("rollout")
        verbose_name_plural = _("rollouts")

    def __str__(self) -> str:
        return self.name

    @property
    def wave_shares(self) -> list[int]:
        return parse_waves(self.waves)

    def wave_sizes(self, phones: int) -> list[int]:
        """How many of `phones` each wave takes up to: cumulative, at least one a wave."""
        sizes: list[int] = []
        for share in self.wave_shares:
            previous = sizes[-1] if sizes else 0
            sizes.append(min(phones, max(math.ceil(phones * share / 100), previous + 1)))
        return sizes

    @property
    def phone_models(self) -> list[str]:
        return list(self.model_names or self.image.phone_models)

    @property
    def is_active(self) -> bool:
        """Whether its phones are offered its image: started and not rolled back."""
        return self.state not in (self.State.DRAFT, self.State.ROLLED_BACK)


class RolloutPhone(models.Model):
    """A phone of a rollout: its wave, and how far it got."""

    class State(models.TextChoices):
        WAITING = "waiting", _("Waiting for its wave")
        OFFERED = "offered", _("Offered the image")
        UPDATED = "updated", _("Back on the new version")
        FAILED = "failed", _("Not back in time")
        ABSENT = "absent", _("Did not ask during its wave")
        # No longer this rollout's to move: deactivated, another model, pinned by a target,
        # its organisation holding back; or moved on by a later rollout once this completed.
        LEFT = "left", _("Left the rollout")

    rollout = models.ForeignKey(
        Rollout, on_delete=models.CASCADE, related_name="phones", verbose_name=_("rollout")
    )
    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="+", verbose_name=_("phone")
    )
    wave = models.PositiveSmallIntegerField(_("wave"))
    from_version = models.CharField(_("was on"), max_length=32, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.WAITING
    )
    offered_at = models.DateTimeField(_("offered at"), null=True, blank=True)
    back_at = models.DateTimeField(_("back at"), null=True, blank=True)

    class Meta:
        ordering = ["rollout", "wave", "device"]
        verbose_name = _("rollout phone")
        verbose_name_plural = _("rollout phones")
        constraints = [
            models.UniqueConstraint(fields=["rollout", "device"], name="rollout_phone_once")
        ]
        indexes = [
            models.Index(fields=["rollout", "wave", "state"], name="rollout_phone_wave"),
            models.Index(fields=["device"], name="rollout_phone_device"),
        ]

    def __str__(self) -> str:
        return gettext("%(phone)s in %(rollout)s") % {"phone": self.device, "rollout": self.rollout}


class RolloutSample(models.Model):
    """A rollout's phones per state at one time: the progress picture's points."""

    rollout = models.ForeignKey(
        Rollout, on_delete=models.CASCADE, related_name="samples", verbose_name=_("rollout")
    )
    at = models.DateTimeField(_("at"))
    wave = models.PositiveSmallIntegerField(_("wave"))
    counts = models.JSONField(_("phones per state"), default=dict)  # state -> phones

    class Meta:
        ordering = ["rollout", "at"]
        verbose_name = _("rollout sample")
        verbose_name_plural = _("rollout samples")
        indexes = [models.Index(fields=["rollout", "at"], name="rollout_sample_time")]

    def __str__(self) -> str:
        return gettext("%(rollout)s at %(time)s") % {
            "rollout": self.rollout,
            "time": f"{self.at:%Y-%m-%d %H:%M}",
        }


def remove_stored_file(
    sender: type[FirmwareImage], instance: FirmwareImage, **kwargs: object
) -> None:
    """A deleted image's file goes too, once the deletion is committed (a rolled-back delete
    keeps it)."""
    name, storage = instance.file.name, instance.file.storage
    if name:
        transaction.on_commit(lambda: storage.delete(name))
