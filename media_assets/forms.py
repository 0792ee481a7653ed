"""Admin upload forms: the file is read into memory, inspected, and only then put on the
model's binary, size and checksum fields. A refused file leaves nothing behind."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Model
from django.utils.functional import Promise
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from media_assets.models import CaCertificate, Ringtone, SoftkeyFile, Wallpaper
from media_assets.validation import (
    CERTIFICATE_MAX_BYTES,
    RINGTONE_CONTENT_TYPE,
    RINGTONE_MAX_BYTES,
    THE_CERTIFICATE,
    THE_FILE,
    THE_IMAGE,
    THE_RINGTONE,
    WALLPAPER_MAX_BYTES,
    check_size,
    detail_of,
    inspect_certificate,
    inspect_image,
    inspect_softkey_xml,
    inspect_wav,
)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
M = TypeVar("M", bound=Model)


def read_upload(upload: UploadedFile, limit: int, what: str | Promise) -> bytes:
    # Refuse an oversized file by its announced size before reading a byte of it.
    check_size(upload.size or 0, limit, what)
    upload.seek(0)
    data: bytes = upload.read(limit + 1)
    check_size(len(data), limit, what)
    return data


def name_from_upload(upload: UploadedFile) -> str:
    """`My Logo (1).PNG` -> `My-Logo-1-.PNG`: a name the phone can ask for."""
    return _UNSAFE.sub("-", upload.name or "").strip("-.")[:64]


def provider_detail(detail: str) -> str:
    """What a refusal's detail looks like on the provider's page."""
    return pgettext("provider", "For the provider: %(detail)s") % {"detail": detail}


class UploadForm(forms.ModelForm[M]):
    """A name plus a file; subclasses say how to inspect the file and store what they learn.

    `show_detail` is set for provider staff (see the admin's get_form): a refusal's detail
    (a parser's words, a command to convert the file) is added for them; staff read only the
    plain message."""

    upload = forms.FileField(label=_("File"))
    limit: int = 0
    what: str | Promise = THE_FILE
    show_detail = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        editing = self.instance.pk is not None
        self.fields["upload"].required = not editing
        if editing:
            self.fields["upload"].help_text = gettext("Leave empty to keep the current file.")
        if "name" in self.fields:
            self.fields["name"].required = False

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean() returns (typed as optional)
        upload = cleaned.get("upload")
        if upload:
            try:
                self.store(read_upload(upload, self.limit, self.what))
            except ValidationError as exc:
                self.refuse(exc)
                return cleaned
            if "name" in self.fields and not cleaned.get("name"):
                cleaned["name"] = name_from_upload(upload)
        if "name" in self.fields and not cleaned.get("name") and "name" not in self.errors:
            self.add_error("name", gettext("Give the file a name."))
        return cleaned

    def refuse(self, error: ValidationError) -> None:
        self.add_error("upload", error)
        detail = detail_of(error)
        if detail and self.show_detail:
            self.add_error("upload", provider_detail(detail))

    def store(self, data: bytes) -> None:
        raise NotImplementedError


class WallpaperForm(UploadForm[Wallpaper]):
    limit = WALLPAPER_MAX_BYTES
    what = THE_IMAGE

    class Meta:
        model = Wallpaper
        fields = ["organisation", "name", "upload"]

    def store(self, data: bytes) -> None:
        info = inspect_image(data)
        self.instance.set_content(data, info.content_type)
        self.instance.width, self.instance.height = info.width, info.height


class RingtoneForm(UploadForm[Ringtone]):
    limit = RINGTONE_MAX_BYTES
    what = THE_RINGTONE

    class Meta:
        model = Ringtone
        fields = ["organisation", "name", "upload"]

    def store(self, data: bytes) -> None:
        info = inspect_wav(data)
        self.instance.set_content(data, RINGTONE_CONTENT_TYPE)
        self.instance.codec = f"{info.codec}, {info.bits_per_sample}-bit"
        self.instance.duration_ms = round(info.duration_seconds * 1000)


class CaCertificateForm(UploadForm[CaCertificate]):
    limit = CERTIFICATE_MAX_BYTES
    what = THE_CERTIFICATE

    class Meta:
        model = CaCertificate
        fields = ["label", "is_active", "upload"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        help_text = gettext("PEM or DER, one certificate, no private key.")
        self.fields["upload"].help_text = f"{help_text} {self.fields['upload'].help_text}".strip()

    def store(self, data: bytes) -> None:
        info = inspect_certificate(data)
        instance = self.instance
        instance.pem, instance.sha256 = info.pem, info.sha256
        instance.subject, instance.issuer = info.subject, info.issuer
        instance.not_valid_before = info.not_valid_before
        instance.not_valid_after = info.not_valid_after
        instance.is_ca = info.is_ca


class SoftkeyFileForm(forms.ModelForm[SoftkeyFile]):
    """The model's clean() refuses a bad file in plain words; this adds the parser's own
    words for provider staff (`show_detail`, set by the admin)."""

    show_detail = False

    class Meta:
        model = SoftkeyFile
        fields = ["name", "content"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean() returns (typed as optional)
        try:
            inspect_softkey_xml(cleaned.get("content") or "")
        except ValidationError as exc:
            detail = detail_of(exc)
            if detail and self.show_detail:
                self.add_error(None, provider_detail(detail))
        return cleaned
