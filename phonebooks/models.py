from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.expressions import Combinable

from devices.models import Device
from organisations.config_syntax import validate_single_line
from organisations.models import Organisation
from phonebooks.families import MAX_BYTES, MAX_BYTES_SOME_MODELS
from phonebooks.numbers import MAX_NUMBER_LENGTH, validate_phone_number

# A phone holds at most this many remote phonebooks (remote_phonebook.data.1..5).
BOOKS_PER_PHONE = 5


def number_field(verbose_name: str) -> models.CharField[str | int | Combinable, str]:
    return models.CharField(
        verbose_name,
        max_length=MAX_NUMBER_LENGTH,
        blank=True,
        validators=[validate_phone_number],
        help_text="Digits, +, *, #, spaces and -; the phone gets it without spaces.",
    )


class NumberLabel(models.TextChoices):
    OFFICE = "office", "Office"
    MOBILE = "mobile", "Mobile"
    OTHER = "other", "Other"


def label_field(verbose_name: str, default: str) -> models.CharField[str | int | Combinable, str]:
    return models.CharField(
        verbose_name, max_length=10, choices=NumberLabel.choices, default=default
    )


class Phonebook(models.Model):
    """A remote phonebook served as `pb-<type>-<id>.xml` to the phones allowed to read it."""

    class Audience(models.TextChoices):
        ALL = "all", "All phones of the organisation"
        CHOSEN = "chosen", "Only the chosen phones"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="phonebooks"
    )
    name = models.CharField(max_length=100, help_text="For the admin; unique per organisation.")
    title = models.CharField(
        max_length=64,
        validators=[validate_single_line],
        help_text="What the phone shows as the book's name and title.",
    )
    audience = models.CharField(
        "readers", max_length=10, choices=Audience.choices, default=Audience.ALL
    )
    devices = models.ManyToManyField(
        Device,
        blank=True,
        related_name="phonebooks",
        verbose_name="chosen phones",
        help_text="Only used with 'Only the chosen phones'; phones of this organisation only.",
    )
    position = models.PositiveSmallIntegerField(
        default=100,
        help_text=(
            f"A phone holds at most {BOOKS_PER_PHONE} books: it gets the first "
            f"{BOOKS_PER_PHONE} it may read, by this number (lowest first), then by name."
        ),
    )
    size_bytes = models.PositiveIntegerField(
        "size",
        null=True,
        blank=True,
        editable=False,
        help_text="Bytes of the largest XML flavour, kept up to date when contacts change.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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
                {"devices": f"Not phones of {self.organisation}: {names}."}, code="foreign_device"
            )

    @property
    def size_warning(self) -> str:
        """What the admin must know about the size, or "" when every phone accepts it."""
        if self.size_bytes is None:
            return ""
        if self.size_bytes > MAX_BYTES:
            return "Too large: phones refuse a phonebook over 1.5 MB."
        if self.size_bytes > MAX_BYTES_SOME_MODELS:
            return "Too large for some models, which refuse a phonebook over 768 KB."
        return ""


class Contact(models.Model):
    """One entry of a phonebook, with up to three numbers.

    Name and group identify a contact within its book, so a CSV import matches on them.
    """

    Label = NumberLabel

    phonebook = models.ForeignKey(Phonebook, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=100, validators=[validate_single_line])
    group = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_single_line],
        help_text="A menu of its own on phones that show grouped books.",
    )
    number_1 = number_field("number 1")
    label_1 = label_field("label 1", Label.OFFICE)
    number_2 = number_field("number 2")
    label_2 = label_field("label 2", Label.MOBILE)
    number_3 = number_field("number 3")
    label_3 = label_field("label 3", Label.OTHER)
    position = models.PositiveIntegerField(
        "order", default=0, help_text="Lower first; contacts with the same order go by name."
    )

    class Meta:
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
                {"number_1": "A contact needs at least one number."}, code="no_number"
            )

    def numbers(self) -> list[tuple[str, str]]:
        """(label, number as typed) for each number that is filled in, in slot order."""
        pairs = [
            (self.label_1, self.number_1),
            (self.label_2, self.number_2),
            (self.label_3, self.number_3),
        ]
        return [(label, number) for label, number in pairs if number.strip()]
