"""`make run`'s demo data shows the firmware flow: the demo phone on 96.86.0.100 is sent the
demo image, and on the target version it is not."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from devices.models import Device
from firmware.demo import DEMO_VERSION
from firmware.models import FirmwareImage
from tests.conftest import basic
from tests.factories import user_agent


def demo_mac_file(client, firmware: str) -> str:
    device = Device.objects.get(mac="805ec0000001")
    headers = {
        "User-Agent": user_agent(device, fw=firmware),
        "Authorization": basic(device.mac, device.provisioning_password),
    }
    response = client.get("/805ec0000001.cfg", headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def test_the_demo_phone_on_an_older_version_is_sent_the_demo_image(client, db):
    call_command("loaddemo", stdout=StringIO())
    image = FirmwareImage.objects.get(version=DEMO_VERSION)

    older = demo_mac_file(client, "96.86.0.100")
    current = demo_mac_file(client, DEMO_VERSION)

    assert f"/firmware/{image.pk}/{DEMO_VERSION}.rom" in older
    assert "firmware.url" not in current
    with image.file.open("rb") as stored:
        assert b"NOT real Yealink firmware" in stored.read(200)
    assert "NOT real" in image.notes


def test_the_demo_rollout_starts_from_the_admin(admin_client, db):
    from django.urls import reverse

    from firmware.models import Rollout

    call_command("loaddemo", stdout=StringIO())
    rollout = Rollout.objects.get()
    assert rollout.state == Rollout.State.DRAFT

    admin_client.post(reverse("admin:firmware_rollout_act", args=[rollout.pk, "start"]))

    rollout.refresh_from_db()
    assert rollout.state == Rollout.State.RUNNING
    demo_t54w = Device.objects.filter(model="T54W").count()
    assert rollout.phones.count() == demo_t54w
    page = admin_client.get(reverse("admin:firmware_rollout_change", args=[rollout.pk]))
    assert "<svg" in page.content.decode()
