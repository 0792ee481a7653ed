from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.expressions import Combinable
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from devices.models import Device
from organisations.config_syntax import validate_single_line
from organisations.models import Organisation
from phonebooks.families import MAX_BYTES, MAX_BYTES_SOME_MODELS
from phonebooks.numbers import MAX_NUMBER_LENGTH, validate_phone_number

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# A phone holds at most this many remote phonebooks (remote_phonebook.data.1..5).
BOOKS_PER_PHONE = 5


def _position_help() -> str:
    return gettext(
        "A phone holds at most %(count)d books: it gets the first %(count)d it may read, "
        "by this number (lowest first), then by name."
    ) % {"count": BOOKS_PER_PHONE}


def number_field(verbose_name: StrOrPromise) -> models.CharField[str | int | Combinable, str]:
    return models.CharField(
        verbose_name,
        max_length=MAX_NUMBER_LENGTH,
        blank=True,
        validators=[validate_phone_number],
        help_text=_("Digits, +, *, #, spaces and -; the phone gets it without spaces."),
    )


class NumberLabel(models.TextChoices):
    OFFICE = "office", _("Office")
    MOBILE = "mobile", _("Mobile")
    OTHER = "other", _("Other")


def label_field(
    verbose_name: StrOrPromise, default: str
) -> models.CharField[str | int | Combinable, str]:
    return models.CharField(
        verbose_name, max_length=10, choices=NumberLabel.choices, default=default
    )


class Phonebook(models.Model):
    """A remote phonebook served as `pb-<type>-<id>.xml` to the phones allowed to read it."""

    class Audience(models.TextChoices):
        ALL = "all", _("All phones of the organisation")
        CHOSEN = "chosen", _("Only the chosen phones")

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="phonebooks",
        verbose_name=_("organisation"),
    )
    name = models.CharField(
        _("name"), max_length=100, help_text=_("For the admin; unique per organisation.")
    )
    title = models.CharField(
        _("title"),
        max_length=64,
        validators=[validate_single_line],
        help_text=_("What the phone shows as the book's name and title."),
    )
    audience = models.CharField(
        _("readers"), max_length=10, choices=Audience.choices, default=Audience.ALL
    )
    devices = models.ManyToManyField(
        Device,
        blank=True,
        related_name="phonebooks",
        verbose_name=_("chosen phones"),
        help_text=_("Only used with 'Only the chosen phones'; phones of this organisation only."),
    )
    position = models.PositiveSmallIntegerField(
        _("position"),
        default=100,
        help_text=lazy(_position_help, str)(),
    )
    size_bytes = models.PositiveIntegerField(
        _("size"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Bytes of the largest XML flavour, kept up to date when contacts change."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("phonebook")
        verbose_name_plural = _("phonebooks")
        ordering = ["organisation", "position", "name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "name"], name="unique_phonebook_name_per_organisation"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def check_devices(self, devices: Iterable[Device]) -> None:
        """The chosen phones must be the organisation's (many-to-many values are only known
        to the form, so the admin form calls this from its clean())."""
        foreign = [device for device in devices if device.organisation_id != self.organisation_id]
        if foreign:
            names = ", ".join(str(device) for device in foreign[:5])
            raise ValidationError(
                {
                    "devices": gettext("Not phones of %(organisation)s: %(phones)s.")
                    % {"organisation": self.organisation, "phones": names}
                },
                code="foreign_device",
            )

    @property
    def size_warning(self) -> str:
        """What the admin must know about the size, or "" when every phone accepts it."""
        if self.size_bytes is None:
            return ""
        if self.size_bytes > MAX_BYTES:
            return gettext("Too large: phones refuse a phonebook over 1.5 MB.")
        if self.size_bytes > MAX_BYTES_SOME_MODELS:
            return gettext("Too large for some models, which refuse a phonebook over 768 KB.")
        return ""


class Contact(models.Model):
    """One entry of a phonebook, with up to three numbers.

    Name and group identify a contact within its book, so a CSV import matches on them.
    """

    Label = NumberLabel

    phonebook = models.ForeignKey(
        Phonebook,
        on_delete=models.CASCADE,
        related_name="contacts",
        verbose_name=_("phonebook"),
    )
    name = models.CharField(_("name"), max_length=100, validators=[validate_single_line])
    group = models.CharField(
        _("group"),
        max_length=64,
        blank=True,
        validators=[validate_single_line],
        help_text=_("A menu of its own on phones that show grouped books."),
    )
    number_1 = number_field(_("number 1"))
    label_1 = label_field(_("label 1"), Label.OFFICE)
    number_2 = number_field(_("number 2"))
    label_2 = label_field(_("label 2"), Label.MOBILE)
    number_3 = number_field(_("number 3"))
    label_3 = label_field(_("label 3"), Label.OTHER)
    position = models.PositiveIntegerField(
        _("order"), default=0, help_text=_("Lower first; contacts with the same order go by name.")
    )

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["phonebook", "position", "name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["phonebook", "name", "group"], name="unique_contact_name_group_per_book"
            ),
        ]
        indexes = [
            models.Index(fields=["phonebook", "position", "name"], name="contact_book_order"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.group})" if self.group else self.name

    def clean(self) -> None:
        if not (self.number_1.strip() or self.number_2.strip() or self.number_3.strip()):
            raise ValidationError(
                {"number_1": gettext("A contact needs at least one number.")}, code="no_number"
            )

    def numbers(self) -> list[tuple[str, str]]:
        """(label, number as typed) for each number that is filled in, in slot order."""
        pairs = [
            (self.label_1, self.number_1),
            (self.label_2, self.number_2),
            (self.label_3, self.number_3),
        ]
        return [(label, number) for label, number in pairs if number.strip()]
