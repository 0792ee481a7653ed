"""Uploading firmware images in the admin: what is checked, and where the bytes go."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from firmware.models import FirmwareImage, FirmwareTarget

ADD = reverse("admin:firmware_firmwareimage_add")


def upload(admin_client, name: str, data: bytes = b"rom" * 1000, models=("T54W",), **fields):
    post = {"kind": "phone", "model_names": list(models), "version": "", "notes": "", **fields}
    post["upload"] = SimpleUploadedFile(name, data, content_type="application/octet-stream")
    return admin_client.post(ADD, post)


def errors(response) -> str:
    assert response.status_code == 200, "the form was taken"
    return " ".join(str(error) for error in response.context["adminform"].form.errors.values())


def test_an_upload_is_stored_on_the_firmware_storage_with_its_hash(admin_client, settings):
    data = bytes(range(256)) * 4096  # 1 MB

    response = upload(admin_client, "T53(T53W,T53C)-95.86.0.120.rom", data, ["T53", "T53W"])

    assert response.status_code == 302
    image = FirmwareImage.objects.get()
    facts = (image.version, image.model_code, image.file_name, image.model_names)
    assert facts == ("95.86.0.120", 95, "95.86.0.120.rom", ["T53", "T53W"])
    assert image.size == len(data) and image.sha256 == hashlib.sha256(data).hexdigest()
    stored = Path(settings.FIRMWARE_ROOT) / image.file.name
    assert stored.read_bytes() == data


def test_the_version_typed_must_be_the_files(admin_client):
    assert "not 96.86.0.121" in errors(
        upload(admin_client, "96.86.0.120.rom", version="96.86.0.121")
    )


@pytest.mark.parametrize(
    "name", ["firmware.bin", "96.86.0.120.zip", "T54W.rom", "../96.86.0.1.rom.exe"]
)
def test_a_file_not_named_as_yealink_names_firmware_is_refused(admin_client, name):
    assert "not named as Yealink names firmware" in errors(upload(admin_client, name))
    assert not FirmwareImage.objects.exists()


def test_an_image_for_models_of_another_family_is_refused(admin_client):
    message = errors(upload(admin_client, "96.86.0.120.rom", models=["T54W", "T46U"]))

    assert "Firmware 96.x is for" in message and "not T46U" in message


def test_an_oversized_image_is_refused(admin_client, settings):
    settings.FIRMWARE_MAX_BYTES = 1024

    message = errors(upload(admin_client, "96.86.0.120.rom", b"x" * 2048))

    assert "is 2 KB; the limit is 1 KB" in message
    assert not FirmwareImage.objects.exists()


def test_an_empty_file_is_refused(admin_client):
    # Django's FileField itself refuses an empty upload.
    assert "empty" in errors(upload(admin_client, "96.86.0.120.rom", b""))


def test_a_version_uploaded_twice_is_refused(admin_client):
    assert upload(admin_client, "96.86.0.120.rom").status_code == 302

    assert "already uploaded" in errors(upload(admin_client, "T54W-96.86.0.120.rom"))
    assert FirmwareImage.objects.count() == 1


def test_a_target_must_name_an_image_for_its_model(admin_client):
    upload(admin_client, "96.86.0.120.rom")
    image = FirmwareImage.objects.get()

    response = admin_client.post(
        reverse("admin:firmware_firmwaretarget_add"), {"model": "T46U", "image": image.pk}
    )

    assert "is not for the T46U" in errors(response)
    assert not FirmwareTarget.objects.exists()


def test_deleting_an_image_removes_its_file(admin_client, settings):
    upload(admin_client, "96.86.0.120.rom")
    image = FirmwareImage.objects.get()
    stored = Path(settings.FIRMWARE_ROOT) / image.file.name

    with TestCase.captureOnCommitCallbacks(execute=True):  # the file goes on commit
        image.delete()

    assert not stored.exists()


def test_a_stored_images_models_stay_of_its_family(admin_client):
    upload(admin_client, "95.86.0.120.rom", models=["T53"])
    image = FirmwareImage.objects.get()
    change = reverse("admin:firmware_firmwareimage_change", args=[image.pk])

    refused = admin_client.post(change, {"model_names": ["T53", "T54W"], "notes": ""})
    taken = admin_client.post(change, {"model_names": ["T53", "T53W"], "notes": "both"})

    assert "not T54W" in errors(refused)
    assert taken.status_code == 302
    image.refresh_from_db()
    assert image.model_names == ["T53", "T53W"] and image.version == "95.86.0.120"


def test_a_handset_target_is_set_for_a_dect_base_not_a_desk_phone(admin_client):
    from tests.factories import make_device, make_organisation

    upload(admin_client, "61.85.0.20.rom", models=["W56H"], kind="handset")
    image = FirmwareImage.objects.get()
    organisation = make_organisation("dect")
    base = make_device(organisation, model="W60B")
    desk = make_device(organisation, model="T54W")
    add = reverse("admin:firmware_firmwaretarget_add")

    refused = admin_client.post(add, {"model": "W56H", "image": image.pk, "device": desk.pk})
    taken = admin_client.post(add, {"model": "W56H", "image": image.pk, "device": base.pk})

    assert "updates over the air from a DECT base" in errors(refused)
    assert taken.status_code == 302
    assert FirmwareTarget.objects.get().device == base
