"""An organisation, and a device overriding it, choose among their own and global files."""

import pytest
from django.core.exceptions import ValidationError

from media_assets.models import DeviceMedia, OrganisationMedia, Wallpaper
from tests.media_assets.media import image_bytes, make_ringtone, make_wallpaper


def test_an_organisation_may_choose_its_own_or_a_global_wallpaper(tenant_a):
    for wallpaper in (
        make_wallpaper(tenant_a.organisation, "a.png"),
        make_wallpaper(None, "g.png"),
    ):
        OrganisationMedia(organisation=tenant_a.organisation, wallpaper=wallpaper).full_clean()


def test_an_organisation_may_not_choose_another_organisations_wallpaper(tenant_a, tenant_b):
    wallpaper = make_wallpaper(tenant_a.organisation, "alpha.png")
    choice = OrganisationMedia(organisation=tenant_b.organisation, wallpaper=wallpaper)

    with pytest.raises(ValidationError) as caught:
        choice.full_clean()

    assert caught.value.message_dict == {
        "wallpaper": ["Wallpaper alpha.png does not belong to organisation Bravo."]
    }


def test_a_device_may_not_choose_another_organisations_ringtone(tenant_a, tenant_b):
    ringtone = make_ringtone(tenant_a.organisation, "alpha.wav")
    choice = DeviceMedia(device=tenant_b.device, ringtone=ringtone)

    with pytest.raises(ValidationError) as caught:
        choice.full_clean()

    assert "Ringtone alpha.wav does not belong to organisation Bravo." in str(caught.value)


def test_two_organisations_may_both_have_a_logo_png(tenant_a, tenant_b):
    make_wallpaper(tenant_a.organisation, "logo.png")
    make_wallpaper(tenant_b.organisation, "logo.png")
    make_wallpaper(None, "logo.png")

    assert Wallpaper.objects.filter(name="logo.png").count() == 3


def test_one_organisation_may_not_have_two_files_of_the_same_name(tenant_a):
    make_wallpaper(tenant_a.organisation, "logo.png")

    with pytest.raises(ValidationError, match=r"Alpha already has a wallpaper named logo\.png"):
        make_wallpaper(tenant_a.organisation, "logo.png")


def test_two_global_files_may_not_share_a_name(db):
    make_wallpaper(None, "logo.png")

    with pytest.raises(ValidationError, match=r"There is a global wallpaper named logo\.png"):
        make_wallpaper(None, "logo.png")


def test_the_database_refuses_a_second_global_file_of_a_name_too(db):
    from django.db import IntegrityError

    make_wallpaper(None, "logo.png")
    duplicate = Wallpaper(
        name="logo.png", content=b"x", size=1, sha256="0", content_type="image/png"
    )

    with pytest.raises(IntegrityError):
        duplicate.save()


def test_a_wallpapers_name_must_match_its_format(tenant_a):
    with pytest.raises(ValidationError, match=r"image/jpeg; its name must end in \.jpg or \.jpeg"):
        make_wallpaper(tenant_a.organisation, "photo.png", image_bytes(100, 100, "JPEG"))
