"""What an uploaded firmware image is: its version, model family and hash, read in chunks.

Yealink publishes no header format for .rom files, so what can be checked is the name, the
size and the models: the file name carries the version (`96.86.0.100.rom`, or as Yealink
ships it, `T54W(T57W,T53W,T53)-96.86.0.100.rom`), whose first number is the model family's
code (yealink.md §2), and every phone model the image is for must have that code.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext

from devices.phone_models import get_model, models_for_code
from media_assets.validation import check_size

# An optional prefix of model names, then the version, then .rom (any case).
FILE_NAME = re.compile(
    r"^(?:[A-Za-z0-9(),_ ]+[-_ ])?"
    r"(?P<version>(?P<code>[0-9]{1,3})\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,4})\.rom$",
    re.IGNORECASE,
)
VERSION = re.compile(r"^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,4}$")
# DECT handsets whose images a base sends over the air (over_the_air.url.<handset>): names
# from Wazo's W-series templates and Yealink's handset range (unconfirmed: their codes).
HANDSET_MODELS = ("W52H", "W53H", "W56H", "W57R", "W59R", "W71H", "W73H", "W78H", "CP930W")


@dataclass(frozen=True)
class ImageFacts:
    version: str
    model_code: int
    file_name: str  # as phones get it: the version and .rom
    size: int
    sha256: str


def check_image(upload: UploadedFile, version: str, models: Iterable[str], kind: str) -> ImageFacts:
    """The facts of an uploaded image, or a ValidationError saying what to fix."""
    name = (upload.name or "").rsplit("/", 1)[-1]
    match = FILE_NAME.match(name)
    if match is None:
        raise ValidationError(
            gettext(
                "%(name)s is not named as Yealink names firmware: the version and .rom, such "
                "as 96.86.0.100.rom or T54W-96.86.0.100.rom."
            ),
            params={"name": name},
            code="file_name",
        )
    named = match["version"]
    if version and version != named:
        raise ValidationError(
            gettext("The file is version %(named)s, not %(version)s."),
            params={"named": named, "version": version},
            code="version",
        )
    code = int(match["code"])
    check_models(list(models), code, kind)
    size = upload.size or 0
    check_size(size, settings.FIRMWARE_MAX_BYTES, "firmware file")
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return ImageFacts(named, code, f"{named}.rom", size, digest.hexdigest())


def check_models(models: list[str], code: int, kind: str) -> None:
    if not models:
        raise ValidationError(gettext("Choose the models the image is for."), code="no_models")
    if kind == "handset":
        unknown = [name for name in models if name not in HANDSET_MODELS]
        if unknown:
            raise ValidationError(
                gettext("Not a DECT handset: %(names)s. Handsets: %(valid)s."),
                params={"names": ", ".join(unknown), "valid": ", ".join(HANDSET_MODELS)},
                code="models",
            )
        return
    wrong = [name for name in models if (model := get_model(name)) is None or model.code != code]
    if wrong:
        family = ", ".join(model.name for model in models_for_code(code)) or gettext(
            "no model we know"
        )
        raise ValidationError(
            gettext("Firmware %(code)s.x is for %(family)s, not %(names)s."),
            params={"code": code, "family": family, "names": ", ".join(wrong)},
            code="models",
        )
