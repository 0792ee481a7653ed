from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from devices.phone_models import MODEL_CHOICES
from firmware.models import FirmwareImage, FirmwareTarget, Rollout, handset_label
from firmware.validation import HANDSET_MODELS, ImageFacts, check_image, check_models

MODEL_NAME_CHOICES = [*MODEL_CHOICES, *((name, handset_label(name)) for name in HANDSET_MODELS)]


class FirmwareImageForm(forms.ModelForm[FirmwareImage]):
    """An upload: the file's name gives the version, its bytes the hash (read in chunks:
    Django keeps an upload over FILE_UPLOAD_MAX_MEMORY_SIZE in a temporary file)."""

    upload = forms.FileField(
        label=_("Firmware file"),
        help_text=_("A Yealink .rom file, as Yealink names it (96.86.0.100.rom)."),
    )
    version = forms.CharField(
        label=_("Version"),
        required=False,
        max_length=32,
        help_text=_("Empty: the version in the file name. Given: it must be that version."),
    )
    model_names = forms.MultipleChoiceField(
        label=_("Models"),
        choices=MODEL_NAME_CHOICES,
        widget=forms.SelectMultiple(attrs={"size": 12}),
        help_text=_("The phone models (or handsets) it is for; all of one family."),
    )

    class Meta:
        model = FirmwareImage
        fields = ["kind", "model_names", "version", "notes"]

    facts: ImageFacts | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # the bytes of a stored image never change
            del self.fields["upload"]
            self.fields["version"].disabled = True
            self.fields["kind"].disabled = True

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("upload")
        if "model_names" not in data:
            return data
        if self.instance.pk:  # the models of a stored image: still of its family
            try:
                check_models(data["model_names"], self.instance.model_code, self.instance.kind)
            except ValidationError as error:
                self.add_error("model_names", error)
            return data
        if upload is None:
            return data
        try:
            self.facts = check_image(
                upload, data.get("version", ""), data["model_names"], data.get("kind", "phone")
            )
        except ValidationError as error:
            self.add_error("upload", error)
            return data
        taken = FirmwareImage.objects.filter(
            kind=data.get("kind", "phone"),
            model_code=self.facts.model_code,
            version=self.facts.version,
        )
        if taken.exists():
            self.add_error(
                "upload",
                ValidationError(
                    gettext("Version %(version)s is already uploaded for this model family."),
                    params={"version": self.facts.version},
                    code="duplicate",
                ),
            )
        return data

    def save(self, commit: bool = True) -> FirmwareImage:
        image = super().save(commit=False)
        if self.facts is not None:
            facts = self.facts
            image.version, image.model_code = facts.version, facts.model_code
            image.file_name, image.size, image.sha256 = facts.file_name, facts.size, facts.sha256
            image.file = self.cleaned_data["upload"]  # stored by upload_to on save
        if commit:
            image.save()
        return image


class FirmwareTargetForm(forms.ModelForm[FirmwareTarget]):
    class Meta:
        model = FirmwareTarget
        fields = ["model", "image", "profile", "organisation", "device"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        model, image = data.get("model"), data.get("image")
        if model and image and model not in image.model_names:
            self.add_error(
                "image",
                ValidationError(
                    gettext("%(image)s is not for the %(model)s."),
                    params={"image": image, "model": model},
                    code="model",
                ),
            )
        device = data.get("device")
        if model in HANDSET_MODELS:
            if device and not (device.phone_model and device.phone_model.is_dect):
                self.add_error(
                    "device",
                    ValidationError(
                        gettext(
                            "A %(model)s updates over the air from a DECT base; %(device)s is "
                            "a %(actual)s."
                        ),
                        params={"model": model, "device": device, "actual": device.model},
                        code="device_model",
                    ),
                )
        elif model and device and device.model != model:
            self.add_error(
                "device",
                ValidationError(
                    gettext("This phone is a %(actual)s, not a %(model)s."),
                    params={"actual": device.model, "model": model},
                    code="device_model",
                ),
            )
        return data


# What a rollout moves and how: set before it starts, read only after.
SCOPE_FIELDS = [
    "image",
    "model_names",
    "organisations",
    "percentage",
    "waves",
    "halt_share",
    "wave_minutes",
]


class RolloutForm(forms.ModelForm[Rollout]):
    model_names = forms.MultipleChoiceField(
        label=_("Models"),
        required=False,
        choices=MODEL_CHOICES,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_("Empty: every phone model the image is for."),
    )

    class Meta:
        model = Rollout
        fields = ["name", *SCOPE_FIELDS]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        image, names = data.get("image"), data.get("model_names") or []
        if image is not None:
            wrong = [name for name in names if name not in image.phone_models]
            if wrong:
                self.add_error(
                    "model_names",
                    ValidationError(
                        gettext("%(image)s is not for %(names)s; it is for %(models)s."),
                        params={
                            "image": image,
                            "names": ", ".join(wrong),
                            "models": ", ".join(image.phone_models) or gettext("no phone model"),
                        },
                        code="models",
                    ),
                )
        return data
