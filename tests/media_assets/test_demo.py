"""The demo data: media for the demo organisation, made in code, created once."""

from io import StringIO

from django.core.management import call_command

from devices.models import Device
from media_assets import demo
from media_assets.models import CaCertificate, Ringtone, SoftkeyFile, Wallpaper
from tests.factories import user_agent


def test_loaddemo_gives_the_demo_phone_its_media_and_a_second_run_creates_nothing(client, db):
    call_command("loaddemo", stdout=StringIO())
    counts = [model.objects.count() for model in (Wallpaper, Ringtone, SoftkeyFile, CaCertificate)]

    assert demo.create_demo_data() == 0
    assert counts == [2, 2, 1, 1]
    assert [
        model.objects.count() for model in (Wallpaper, Ringtone, SoftkeyFile, CaCertificate)
    ] == counts


def test_the_demo_phone_config_references_the_demo_media_and_each_is_served(client, db):
    call_command("loaddemo", stdout=StringIO())
    device = Device.objects.get(mac="805ec0000001")
    headers = {"User-Agent": user_agent(device)}

    config = client.get(
        "/805ec0000001.cfg",
        headers={**headers, "Authorization": "Basic ZGVtbzpkZW1vLXByb3Zpc2lvbmluZw=="},
    ).content.decode()

    for key in (
        "wallpaper_upload.url",
        "ringtone.url",
        "custom_softkey_call_in.url",
        "static.trusted_certificates.url",
    ):
        line = next(line for line in config.splitlines() if line.startswith(key + " = "))
        path = "/" + line.split(" = ", 1)[1].split("/", 3)[3]
        assert client.get(path, headers=headers).status_code == 200, path
    assert "phone_setting.custom_softkey_enable = 1" in config


def test_the_demo_media_pass_the_upload_checks(db):
    from media_assets.validation import inspect_certificate, inspect_image, inspect_wav

    assert inspect_image(demo.logo_png()).format == "PNG"
    assert inspect_wav(demo.ring_wav()).duration_seconds == 2.0
    assert inspect_certificate(demo.demo_ca_pem()).is_ca
