"""Admin upload forms: the file is read into memory, inspected, and only then put on the
model's binary, size and checksum fields. A refused file leaves nothing behind."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Model

from media_assets.models import CaCertificate, Ringtone, Wallpaper
from media_assets.validation import (
    CERTIFICATE_MAX_BYTES,
    RINGTONE_CONTENT_TYPE,
    RINGTONE_MAX_BYTES,
    WALLPAPER_MAX_BYTES,
    check_size,
    inspect_certificate,
    inspect_image,
    inspect_wav,
)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
M = TypeVar("M", bound=Model)


def read_upload(upload: UploadedFile, limit: int, what: str) -> bytes:
    # Refuse an oversized file by its announced size before reading a byte of it.
    check_size(upload.size or 0, limit, what)
    upload.seek(0)
    data: bytes = upload.read(limit + 1)
    check_size(len(data), limit, what)
    return data


def name_from_upload(upload: UploadedFile) -> str:
    """`My Logo (1).PNG` -> `My-Logo-1-.PNG`: a name the phone can ask for."""
    return _UNSAFE.sub("-", upload.name or "").strip("-.")[:64]


class UploadForm(forms.ModelForm[M]):
    """A name plus a file; subclasses say how to inspect the file and store what they learn."""

    upload = forms.FileField(label="File")
    limit: int = 0
    what = "file"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        editing = self.instance.pk is not None
        self.fields["upload"].required = not editing
        if editing:
            self.fields["upload"].help_text = "Leave empty to keep the current file."
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
                self.add_error("upload", exc)
                return cleaned
            if "name" in self.fields and not cleaned.get("name"):
                cleaned["name"] = name_from_upload(upload)
        if "name" in self.fields and not cleaned.get("name") and "name" not in self.errors:
            self.add_error("name", "Give the file a name.")
        return cleaned

    def store(self, data: bytes) -> None:
        raise NotImplementedError


class WallpaperForm(UploadForm[Wallpaper]):
    limit = WALLPAPER_MAX_BYTES
    what = "image"

    class Meta:
        model = Wallpaper
        fields = ["organisation", "name", "upload"]

    def store(self, data: bytes) -> None:
        info = inspect_image(data)
        self.instance.set_content(data, info.content_type)
        self.instance.width, self.instance.height = info.width, info.height


class RingtoneForm(UploadForm[Ringtone]):
    limit = RINGTONE_MAX_BYTES
    what = "ringtone"

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
    what = "certificate"

    class Meta:
        model = CaCertificate
        fields = ["label", "is_active", "upload"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["upload"].help_text = (
            "PEM or DER, one certificate, no private key. " + self.fields["upload"].help_text
        ).strip()

    def store(self, data: bytes) -> None:
        info = inspect_certificate(data)
        instance = self.instance
        instance.pem, instance.sha256 = info.pem, info.sha256
        instance.subject, instance.issuer = info.subject, info.issuer
        instance.not_valid_before = info.not_valid_before
        instance.not_valid_after = info.not_valid_after
        instance.is_ca = info.is_ca
