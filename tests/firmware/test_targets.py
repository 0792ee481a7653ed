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


def test_an_organisation_holding_back_keeps_its_firmware(client, tenant_a):
    FirmwareTarget.objects.create(model="T54W", image=make_image(NEW))
    organisation = tenant_a.organisation
    organisation.firmware_hold_back_allowed = organisation.firmware_hold_back = True
    organisation.save()

    assert firmware_lines(mac_file(client, tenant_a, OLD)) == []


def test_holding_back_counts_only_when_the_provider_allows_it(client, tenant_a):
    FirmwareTarget.objects.create(model="T54W", image=make_image(NEW))
    organisation = tenant_a.organisation
    organisation.firmware_hold_back = True  # asked for, not allowed
    organisation.save()

    assert len(firmware_lines(mac_file(client, tenant_a, OLD))) == 1


def test_the_providers_target_for_the_organisation_reaches_it_while_holding_back(client, tenant_a):
    image = make_image(NEW)
    organisation = tenant_a.organisation
    FirmwareTarget.objects.create(model="T54W", image=image, organisation=organisation)
    organisation.firmware_hold_back_allowed = organisation.firmware_hold_back = True
    organisation.save()

    assert len(firmware_lines(mac_file(client, tenant_a, OLD))) == 1


HANDSET = "61.85.0.20"


def make_handset_image(version: str = HANDSET, handset: str = "W56H") -> FirmwareImage:
    data = f"not a handset image {version}".encode() * 50
    image = FirmwareImage(
        kind=FirmwareImage.Kind.HANDSET,
        version=version,
        model_code=int(version.split(".")[0]),
        model_names=[handset],
        file_name=f"{version}.rom",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    image.file.save(image.file_name, ContentFile(data), save=False)
    image.save()
    return image


@pytest.fixture
def dect_base(tenant_a):
    return make_device(tenant_a.organisation, "805ec0aaaa60", model="W60B")


def base_file(client, base, firmware: str = "77.85.0.20") -> str:
    from tests.factories import own_basic

    response = client.get(
        f"/{base.mac}.cfg",
        headers={
            "User-Agent": user_agent(base, model="W60B", fw=firmware),
            "Authorization": own_basic(base),
        },
    )
    assert response.status_code == 200
    return response.content.decode()


def test_a_dect_base_is_sent_its_handsets_images_over_the_air(client, dect_base):
    image = make_handset_image()
    FirmwareTarget.objects.create(model="W56H", image=image)

    body = base_file(client, dect_base)

    url = dect_base.resource_url(f"firmware/{image.pk}/{HANDSET}.rom")
    assert f"over_the_air.url.w56h = {url}" in body.splitlines()
    assert "over_the_air.handset_tip = 0" in body.splitlines()
    download = client.get(
        "/" + url.split("/", 3)[3], headers={"User-Agent": user_agent(dect_base, model="W60B")}
    )
    assert download.status_code == 200
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == image.sha256


def test_a_desk_phone_is_sent_no_handset_image_and_may_not_fetch_one(client, tenant_a):
    image = make_handset_image()
    FirmwareTarget.objects.create(model="W56H", image=image)

    assert "over_the_air" not in mac_file(client, tenant_a, OLD)
    path = "/" + tenant_a.device.resource_url(f"firmware/{image.pk}/{HANDSET}.rom").split("/", 3)[3]
    assert client.get(path, headers={"User-Agent": user_agent(tenant_a.device)}).status_code == 404


def test_handset_targets_follow_the_scopes(client, tenant_a, dect_base):
    everywhere, own = make_handset_image(), make_handset_image("61.85.0.30")
    FirmwareTarget.objects.create(model="W56H", image=everywhere)
    FirmwareTarget.objects.create(model="W56H", image=own, device=dect_base)

    lines = [line for line in base_file(client, dect_base).splitlines() if "w56h" in line]

    assert lines == [
        f"over_the_air.url.w56h = {dect_base.resource_url(f'firmware/{own.pk}/61.85.0.30.rom')}"
    ]
