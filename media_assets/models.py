"""Wallpapers, ringtones, softkey XML and the CA certificate, with their bytes in the database.

Nothing is kept on local disk, so any number of app servers can serve them. The bytes column
is read only for the one file being served: lists, lookups and the config contributor use
the `size` and `sha256` columns stored on save (see MEDIA_FIELDS).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from devices.models import Device
from media_assets.validation import (
    SOFTKEY_CALL_STATES,
    WALLPAPER_FORMATS,
    human_size,
    inspect_softkey_xml,
    validate_file_name,
)
from organisations.models import Organisation

# Everything but the bytes: what a lookup or a list page loads.
MEDIA_FIELDS = ("id", "organisation_id", "name", "size", "sha256", "content_type", "updated_at")


class MediaFile(models.Model):
    """A file a phone asks for by name: an organisation's own, or global (organisation empty).

    An organisation's file wins over a global one of the same name.
    """

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("organisation"),
        help_text=_("Leave empty for a global file that every organisation can use."),
    )
    name = models.CharField(
        _("file name"),
        max_length=64,
        validators=[validate_file_name],
        help_text=_(
            "The name the phone asks for, e.g. logo.png. Leave empty to keep the "
            "uploaded file's name."
        ),
    )
    content = models.BinaryField(_("content"), editable=False)
    size = models.PositiveIntegerField(_("size"), editable=False, default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64, editable=False, default="")
    content_type = models.CharField(_("content type"), max_length=32, editable=False, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True
        ordering = ["organisation__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "name"],
                condition=Q(organisation__isnull=False),
                name="%(class)s_unique_name_per_organisation",
                violation_error_message=_("This organisation already has a file with this name."),
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(organisation__isnull=True),
                name="%(class)s_unique_global_name",
                violation_error_message=_("A global file with this name exists already."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def owner(self) -> str:
        organisation = self.organisation if self.organisation_id else None
        return organisation.name if organisation is not None else gettext("global")

    @property
    def human_size(self) -> str:
        return human_size(self.size)

    def clean(self) -> None:
        # The constraints say so too, but a form without the organisation field (organisation
        # staff never choose it) would skip them and fail on save instead.
        files = type(self)._default_manager  # `objects` of the concrete class; this one has none
        same_name = files.filter(organisation=self.organisation_id, name=self.name)
        if self.name and same_name.exclude(pk=self.pk).exists():
            raise ValidationError({"name": self.taken_message()})

    def taken_message(self) -> str:
        values = {"organisation": self.organisation, "what": self._meta.verbose_name}
        values["name"] = self.name
        if self.organisation_id:
            return gettext("%(organisation)s already has a %(what)s named %(name)s.") % values
        return gettext("There is a global %(what)s named %(name)s.") % values

    def set_content(self, data: bytes, content_type: str) -> None:
        self.content = data
        self.size = len(data)
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.content_type = content_type

    def belongs_to(self, organisation_id: int | None) -> bool:
        return self.organisation_id is None or self.organisation_id == organisation_id


class Wallpaper(MediaFile):
    """A background image (PNG, JPEG or BMP), fitted to each model's screen when served."""

    width = models.PositiveIntegerField(_("width"), editable=False, default=0)
    height = models.PositiveIntegerField(_("height"), editable=False, default=0)

    class Meta(MediaFile.Meta):
        verbose_name = _("wallpaper")
        verbose_name_plural = _("wallpapers")

    def save(self, *args: Any, **kwargs: Any) -> None:
        with transaction.atomic():
            super().save(*args, **kwargs)
            # Fitted copies of other bytes are stale; they are made again on demand.
            self.renditions.exclude(source_sha256=self.sha256).delete()

    def clean(self) -> None:
        super().clean()
        extension = "." + self.name.rsplit(".", 1)[-1].lower() if "." in self.name else ""
        allowed = next(
            (exts for ctype, exts in WALLPAPER_FORMATS.values() if ctype == self.content_type),
            None,
        )
        if allowed and extension not in allowed:
            message = gettext("The image is %(type)s; its name must end in %(extensions)s.")
            extensions = gettext(" or ").join(allowed)
            raise ValidationError(
                {"name": message % {"type": self.content_type, "extensions": extensions}}
            )


class Ringtone(MediaFile):
    """A ring tone: WAV, PCM or G.711, mono, 8 kHz."""

    codec = models.CharField(_("codec"), max_length=32, editable=False, default="")
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), editable=False, default=0)

    class Meta(MediaFile.Meta):
        verbose_name = _("ringtone")
        verbose_name_plural = _("ringtones")

    def clean(self) -> None:
        super().clean()
        if self.name and not self.name.lower().endswith(".wav"):
            raise ValidationError({"name": gettext("A ringtone's name must end in .wav.")})


class WallpaperRendition(models.Model):
    """A wallpaper fitted to one screen size, made on the first request from a model of that
    size and kept; models sharing a screen size share it."""

    wallpaper = models.ForeignKey(
        Wallpaper,
        on_delete=models.CASCADE,
        related_name="renditions",
        verbose_name=_("wallpaper"),
    )
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    source_sha256 = models.CharField(
        _("SHA-256 of the original"),
        max_length=64,
        help_text=_("Of the original it was made from."),
    )
    content = models.BinaryField(_("content"))
    size = models.PositiveIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    content_type = models.CharField(_("content type"), max_length=32)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("fitted wallpaper")
        verbose_name_plural = _("fitted wallpapers")
        constraints = [
            models.UniqueConstraint(
                fields=["wallpaper", "width", "height"], name="unique_rendition_per_screen_size"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.wallpaper_id} at {self.width}x{self.height}"


class SoftkeyFile(models.Model):
    """A custom softkey layout for one call state, shared by every organisation that enables
    custom softkeys: /xml/_global/<name>.xml, served as entered. The call state (and so the
    config key custom_softkey_<state>.url) follows from the file's top-level elements: one
    per sub-state, e.g. <Talk>, <Hold> and <Held> make it the Talking file."""

    name = models.CharField(
        _("name"),
        max_length=60,
        unique=True,
        validators=[validate_file_name],
        help_text=_("Served as /xml/_global/<name>.xml; leave empty to use the call state."),
        blank=True,
    )
    call_state = models.CharField(
        _("call state"),
        max_length=20,
        unique=True,
        editable=False,
        choices=[(state, state) for state in SOFTKEY_CALL_STATES],
        error_messages={"unique": _("There is a softkey file for this call state already.")},
    )
    content = models.TextField(
        _("XML"),
        # No angle brackets: the admin shows help text as HTML.
        help_text=_(
            "One top-level element per sub-state of one call state, e.g. Talk, Hold, "
            "Held, Conferenced and PreTrans for Talking; RingBack and SemiAttendTransBack for "
            "RingBack; CallIn alone for CallIn."
        ),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("softkey file")
        verbose_name_plural = _("softkey files")

    def __str__(self) -> str:
        return f"{self.name}.xml"

    def clean(self) -> None:
        try:
            self.call_state = inspect_softkey_xml(self.content or "")
        except ValidationError as exc:
            raise ValidationError({"content": exc.messages}) from None
        self.name = self.name.removesuffix(".xml") or self.call_state
        # call_state is derived here, not a form field: say which file has it already.
        other = SoftkeyFile.objects.filter(call_state=self.call_state).exclude(pk=self.pk).first()
        if other is not None:
            message = gettext("%(file)s is the %(state)s file already; edit that one.")
            raise ValidationError({"content": message % {"file": other, "state": self.call_state}})


class CaCertificate(models.Model):
    """The CA certificate phones must trust to reach us over HTTPS; stored as PEM.

    One is current (is_active); older ones are kept to switch back to.
    """

    label = models.CharField(
        _("label"), max_length=100, help_text=_("For you, e.g. 'Provider root CA 2026'.")
    )
    is_active = models.BooleanField(
        _("current"),
        default=True,
        help_text=_(
            "The certificate served at ca.crt and written into phone configs. "
            "Making one current makes the others not current."
        ),
    )
    pem = models.TextField(_("PEM"), editable=False)
    sha256 = models.CharField(_("SHA-256 fingerprint"), max_length=64, editable=False)
    subject = models.CharField(_("subject"), max_length=255, editable=False)
    issuer = models.CharField(_("issuer"), max_length=255, editable=False)
    not_valid_before = models.DateTimeField(_("valid from"), editable=False)
    not_valid_after = models.DateTimeField(_("expires"), editable=False)
    is_ca = models.BooleanField(_("CA"), editable=False, default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-is_active", "-created_at"]
        verbose_name = _("CA certificate")
        verbose_name_plural = _("CA certificates")
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_current_ca_certificate"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    def save(self, *args: Any, **kwargs: Any) -> None:
        with transaction.atomic():
            if self.is_active:
                CaCertificate.objects.filter(is_active=True).exclude(pk=self.pk).update(
                    is_active=False
                )
            super().save(*args, **kwargs)

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        # Saving a current one demotes the others (save()), so this is not the form's business.
        super().validate_constraints(exclude={*(exclude or ()), "is_active"})


class OrganisationMedia(models.Model):
    """What an organisation's phones show and play; a device may override (DeviceMedia)."""

    organisation = models.OneToOneField(
        Organisation,
        on_delete=models.CASCADE,
        related_name="media",
        verbose_name=_("organisation"),
    )
    wallpaper = models.ForeignKey(
        Wallpaper,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("wallpaper"),
    )
    ringtone = models.ForeignKey(
        Ringtone,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ringtone"),
    )
    custom_softkeys_enabled = models.BooleanField(
        _("custom softkeys"),
        default=False,
        help_text=_("Phones use the global softkey files (Media › Softkey files)."),
    )

    class Meta:
        verbose_name = _("media")
        verbose_name_plural = _("media")

    def __str__(self) -> str:
        return gettext("Media of %(organisation)s") % {"organisation": self.organisation}

    def clean(self) -> None:
        check_owner(self, self.organisation_id, self.organisation if self.organisation_id else None)


class DeviceMedia(models.Model):
    """A phone's own wallpaper or ringtone; empty fields keep the organisation's."""

    device = models.OneToOneField(
        Device, on_delete=models.CASCADE, related_name="media", verbose_name=_("phone")
    )
    wallpaper = models.ForeignKey(
        Wallpaper,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("wallpaper"),
        help_text=_("Empty: the organisation's wallpaper."),
    )
    ringtone = models.ForeignKey(
        Ringtone,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ringtone"),
        help_text=_("Empty: the organisation's ringtone."),
    )

    class Meta:
        verbose_name = _("media")
        verbose_name_plural = _("media")

    def __str__(self) -> str:
        return gettext("Media of %(phone)s") % {"phone": self.device}

    def clean(self) -> None:
        organisation = self.device.organisation if self.device_id else None
        check_owner(self, organisation.pk if organisation else None, organisation)


def _not_its_own(field: str, name: str, organisation: Organisation | None) -> str:
    values = {"name": name, "organisation": organisation}
    if field == "wallpaper":
        return (
            gettext("Wallpaper %(name)s does not belong to organisation %(organisation)s.") % values
        )
    return gettext("Ringtone %(name)s does not belong to organisation %(organisation)s.") % values


def check_owner(
    choice: OrganisationMedia | DeviceMedia,
    organisation_id: int | None,
    organisation: Organisation | None,
) -> None:
    """Another organisation's wallpaper or ringtone is refused, field by field."""
    errors = {}
    for field in ("wallpaper", "ringtone"):
        item = getattr(choice, field)
        if item is not None and not item.belongs_to(organisation_id):
            errors[field] = _not_its_own(field, item.name, organisation)
    if errors:
        raise ValidationError(errors)
