"""A firmware target for the demo phone's model, with a small generated image that is NOT
real firmware (a phone would refuse it): the demo phone reporting 96.86.0.100 gets
static.firmware.url in its MAC file, and reporting the target version it does not. And a
draft rollout of that image, to start from the admin and watch its waves."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile

from devices.phone_models import models_for_code
from firmware.models import FirmwareImage, FirmwareTarget, Rollout

DEMO_VERSION = "96.86.0.120"
DEMO_NOTES = "Demo data: a generated file, NOT real Yealink firmware. Do not send it to phones."


def demo_image_bytes() -> bytes:
    line = b"voipconfig demo image - NOT real Yealink firmware - " + DEMO_VERSION.encode() + b"\n"
    return line * (64 * 1024 // len(line) + 1)


def create_demo_data() -> int:
    if FirmwareImage.objects.filter(version=DEMO_VERSION).exists():
        return 0
    data = demo_image_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    models = [model.name for model in models_for_code(96)]  # the demo phone's T54W
    image = FirmwareImage(
        kind=FirmwareImage.Kind.PHONE,
        version=DEMO_VERSION,
        model_code=96,
        model_names=models,
        file_name=f"{DEMO_VERSION}.rom",
        size=len(data),
        sha256=sha256,
        notes=DEMO_NOTES,
    )
    image.file.save(image.file_name, ContentFile(data), save=False)
    image.save()
    FirmwareTarget.objects.create(model="T54W", image=image)
    Rollout.objects.create(
        name=f"Demo: {DEMO_VERSION} to the T54W phones (a draft: start it in the admin)",
        image=image,
        waves="10, 50, 100",
        wave_minutes=60,
    )
    return 3
