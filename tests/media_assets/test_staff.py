"""Organisation staff manage their own media, see the global ones, and nothing of others."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from media_assets.models import Ringtone, Wallpaper
from organisations.models import Organisation
from tests.media_assets.admin_pages import page_data
from tests.media_assets.media import image_bytes, make_ringtone, make_wallpaper


@pytest.fixture
def demo_staff(client, db):
    """Staff of the demo organisation (`demo-admin` from the demo data); Acme exists too."""
    call_command("loaddemo", stdout=StringIO())
    client.force_login(get_user_model().objects.get(username="demo-admin"))
    return client


def orgs():
    return Organisation.objects.get(slug="demo"), Organisation.objects.get(slug="acme")


def test_staff_see_their_own_and_the_global_wallpapers_only(demo_staff):
    demo, acme = orgs()
    make_wallpaper(None, "shared.png")
    make_wallpaper(acme, "acme-secret.png")

    response = demo_staff.get(reverse("admin:media_assets_wallpaper_changelist"))

    owners = {wallpaper.organisation for wallpaper in response.context["cl"].result_list}
    assert owners == {demo, None}
    assert b"acme-secret.png" not in response.content


def test_another_organisations_wallpaper_and_its_preview_are_a_404(demo_staff):
    _, acme = orgs()
    wallpaper = Wallpaper.objects.get(organisation=acme, name="logo.png")

    for view in ("change", "file"):
        url = reverse(f"admin:media_assets_wallpaper_{view}", args=[wallpaper.pk])
        assert demo_staff.get(url).status_code == 404, view


def test_staff_upload_a_wallpaper_for_their_own_organisation(demo_staff):
    demo, _ = orgs()
    url = reverse("admin:media_assets_wallpaper_add")
    data = {"name": "", "upload": SimpleUploadedFile("lobby.png", image_bytes())}

    response = demo_staff.post(url, data)

    assert response.status_code == 302
    assert Wallpaper.objects.get(name="lobby.png").organisation == demo


def test_staff_are_told_when_their_organisation_has_the_name_already(demo_staff):
    url = reverse("admin:media_assets_wallpaper_add")
    data = {"name": "logo.png", "upload": SimpleUploadedFile("x.png", image_bytes())}

    response = demo_staff.post(url, data)

    assert response.status_code == 200
    assert "Demo BV already has a wallpaper named logo.png." in response.content.decode()


def test_staff_cannot_change_a_global_ringtone(demo_staff):
    ringtone = make_ringtone(None, "global.wav")
    url = reverse("admin:media_assets_ringtone_change", args=[ringtone.pk])

    response = demo_staff.post(url, {"name": "mine.wav"})

    assert response.status_code == 403
    assert Ringtone.objects.get(pk=ringtone.pk).name == "global.wav"


@pytest.mark.parametrize("model", ["softkeyfile", "cacertificate"])
def test_softkeys_and_the_ca_certificate_are_for_the_provider_only(demo_staff, model):
    assert demo_staff.get(reverse(f"admin:media_assets_{model}_changelist")).status_code == 403


def test_the_device_page_offers_staff_their_own_and_global_ringtones_only(demo_staff):
    demo, acme = orgs()
    make_ringtone(None, "shared.wav")
    make_ringtone(acme, "acme-only.wav")
    phone = demo.devices.get()

    response = demo_staff.get(reverse("admin:devices_device_change", args=[phone.pk]))

    page = response.content.decode()
    assert "ring.wav" in page
    assert "shared.wav (global)" in page
    assert "acme-only.wav" not in page


def test_staff_choose_a_wallpaper_for_their_phone(demo_staff):
    demo, _ = orgs()
    phone = demo.devices.get()
    lobby = make_wallpaper(demo, "lobby.png")
    url = reverse("admin:devices_device_change", args=[phone.pk])
    data = page_data(demo_staff, url)
    data.update({"media-0-wallpaper": lobby.pk, "media-0-ringtone": ""})

    response = demo_staff.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert phone.media.wallpaper == lobby
