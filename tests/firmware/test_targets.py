"""Which firmware a phone is sent: the MAC file names its target's image only when the
phone reports another version, through the phone's real request."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile

from devices.models import Device
from firmware.models import FirmwareImage, FirmwareTarget
from organisations.models import SettingsProfile
from tests.factories import make_device, user_agent

MAC_FILE = "/805ec0aaaa01.cfg"
OLD, NEW = "96.86.0.100", "96.86.0.120"


def make_image(version: str, models=("T54W",), data: bytes | None = None) -> FirmwareImage:
    data = data or f"not firmware {version}".encode() * 100
    image = FirmwareImage(
        version=version,
        model_code=int(version.split(".")[0]),
        model_names=list(models),
        file_name=f"{version}.rom",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    image.file.save(image.file_name, ContentFile(data), save=False)
    image.save()
    return image


def mac_file(client, tenant, firmware: str) -> str:
    headers = {**tenant.own_headers(), "User-Agent": user_agent(tenant.device, fw=firmware)}
    response = client.get(MAC_FILE, headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def firmware_lines(body: str) -> list[str]:
    return [line for line in body.splitlines() if "firmware.url" in line]


def test_a_phone_on_another_version_is_sent_its_targets_image(client, tenant_a):
    image = make_image(NEW)
    FirmwareTarget.objects.create(model="T54W", image=image)

    lines = firmware_lines(mac_file(client, tenant_a, OLD))

    url = tenant_a.device.resource_url(f"firmware/{image.pk}/{NEW}.rom")
    assert lines == [f"static.firmware.url = {url}"]


def test_a_phone_on_the_target_version_is_sent_no_firmware(client, tenant_a):
    FirmwareTarget.objects.create(model="T54W", image=make_image(NEW))

    assert firmware_lines(mac_file(client, tenant_a, NEW)) == []


def test_the_same_phone_gets_the_url_until_it_reports_the_new_version(client, tenant_a):
    FirmwareTarget.objects.create(model="T54W", image=make_image(NEW))

    before = mac_file(client, tenant_a, OLD)
    after = mac_file(client, tenant_a, NEW)
    again_old = mac_file(client, tenant_a, OLD)  # kept per reported version, not mixed up

    assert len(firmware_lines(before)) == 1
    assert firmware_lines(after) == []
    assert firmware_lines(again_old) == firmware_lines(before)


def test_no_target_no_firmware(client, tenant_a):
    make_image(NEW)

    assert firmware_lines(mac_file(client, tenant_a, OLD)) == []


def test_a_target_set_after_the_file_was_served_reaches_the_phone(client, tenant_a):
    assert firmware_lines(mac_file(client, tenant_a, OLD)) == []

    FirmwareTarget.objects.create(model="T54W", image=make_image(NEW))

    assert len(firmware_lines(mac_file(client, tenant_a, OLD))) == 1


@pytest.mark.parametrize("scope", ["device", "organisation", "profile"])
def test_the_most_specific_target_wins(client, tenant_a, scope):
    everywhere = make_image(NEW)
    specific = make_image("96.86.0.90")
    FirmwareTarget.objects.create(model="T54W", image=everywhere)
    if scope == "device":
        FirmwareTarget.objects.create(model="T54W", image=specific, device=tenant_a.device)
    elif scope == "organisation":
        FirmwareTarget.objects.create(
            model="T54W", image=specific, organisation=tenant_a.organisation
        )
    else:
        profile = SettingsProfile.objects.create(name="Hotels")
        tenant_a.organisation.profile = profile
        tenant_a.organisation.save()
        FirmwareTarget.objects.create(model="T54W", image=specific, profile=profile)

    lines = firmware_lines(mac_file(client, tenant_a, OLD))

    assert lines == [
        f"static.firmware.url = {tenant_a.device.resource_url(specific_path(specific))}"
    ]
    assert firmware_lines(mac_file(client, tenant_a, "96.86.0.90")) == []


def specific_path(image: FirmwareImage) -> str:
    return f"firmware/{image.pk}/{image.file_name}"


def test_a_phones_own_target_leaves_its_neighbours_on_the_general_one(client, tenant_a):
    general, own = make_image(NEW), make_image("96.86.0.90")
    neighbour = make_device(tenant_a.organisation, "805ec0aaaa02", model="T54W")
    FirmwareTarget.objects.create(model="T54W", image=general)
    FirmwareTarget.objects.create(model="T54W", image=own, device=tenant_a.device)

    headers = {
        "User-Agent": user_agent(neighbour, fw=OLD),
        "Authorization": basic_own(neighbour),
    }
    body = client.get("/805ec0aaaa02.cfg", headers=headers).content.decode()

    assert firmware_lines(body) == [
        f"static.firmware.url = {neighbour.resource_url(specific_path(general))}"
    ]


def basic_own(device: Device) -> str:
    from tests.conftest import basic

    return basic(device.mac, device.provisioning_password)


def test_another_models_target_is_not_sent(client, tenant_a):
    FirmwareTarget.objects.create(model="T46U", image=make_image("108.86.0.20", models=["T46U"]))

    assert firmware_lines(mac_file(client, tenant_a, OLD)) == []


def test_firmware_before_v81_reads_the_older_key_name(client, tenant_a):
    FirmwareTarget.objects.create(model="T54W", image=make_image(NEW))

    lines = firmware_lines(mac_file(client, tenant_a, "96.80.0.95"))

    assert len(lines) == 1 and lines[0].startswith("firmware.url = ")


def test_a_providers_override_of_the_firmware_url_wins(client, tenant_a):
    FirmwareTarget.objects.create(model="T54W", image=make_image(NEW))
    tenant_a.organisation.raw_overrides = "static.firmware.url = http://fw.example/x.rom"
    tenant_a.organisation.save()

    assert firmware_lines(mac_file(client, tenant_a, OLD)) == [
        "static.firmware.url = http://fw.example/x.rom"
    ]


def test_a_phone_that_reports_no_version_is_sent_no_firmware(client, tenant_a):
    FirmwareTarget.objects.create(model="T54W", image=make_image(NEW))
    headers = {**tenant_a.own_headers(), "User-Agent": "Yealink SIP-T54W"}

    body = client.get(MAC_FILE, headers=headers).content.decode()

    assert firmware_lines(body) == []


def test_a_phone_reporting_many_versions_keeps_two_files_at_most(client, tenant_a, settings):
    from devices import serving
    from devices.serving import cache

    settings.CONFIG_CACHE = True
    serving.reset()
    FirmwareTarget.objects.create(model="T54W", image=make_image(NEW))
    versions = [f"96.86.0.{n}" for n in range(1, 30)] + [NEW]

    bodies = {version: mac_file(client, tenant_a, version) for version in versions}

    assert cache.kept_files(tenant_a.device.mac) == ["mac", "mac:firmware"]
    assert firmware_lines(bodies[NEW]) == []
    assert all(len(firmware_lines(bodies[v])) == 1 for v in versions if v != NEW)
