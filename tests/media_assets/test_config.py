"""The media keys in a phone's MAC file, and the CA certificate URL for RPS."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices.config import device_config
from devices.serving import cache
from media_assets.ca import ca_certificate_url
from media_assets.config import media_config
from media_assets.models import CaCertificate, DeviceMedia, SoftkeyFile
from organisations.config_syntax import unknown_keys
from tests.factories import make_device, make_organisation, resource_path
from tests.media_assets.media import choose, make_ca_certificate, make_ringtone, make_wallpaper

URL = "http://127.0.0.1:8000/"


def at(device, name: str) -> str:
    """The URL of one of the phone's files, under its resource token."""
    return URL + resource_path(device, name).lstrip("/")


@pytest.fixture(autouse=True)
def provisioning_url(settings):
    settings.PROVISIONING_URL = URL


def softkey(state: str, name: str | None = None) -> SoftkeyFile:
    return SoftkeyFile.objects.create(
        name=name or state, call_state=state, content=f"<{state}><Enable/></{state}>"
    )


def test_a_phone_without_media_gets_custom_softkeys_switched_off_and_nothing_else(tenant_a):
    assert media_config(tenant_a.device) == {"phone_setting.custom_softkey_enable": "0"}


def test_the_organisations_wallpaper_and_ringtone_are_in_the_config(tenant_a):
    choose(
        tenant_a.organisation,
        wallpaper=make_wallpaper(tenant_a.organisation, "logo.png"),
        ringtone=make_ringtone(None, "ring.wav"),
    )

    config = media_config(tenant_a.device)

    assert config["wallpaper_upload.url"] == at(tenant_a.device, "logo.png")
    assert config["phone_setting.backgrounds"] == "Config:logo.png"
    assert config["ringtone.url"] == at(tenant_a.device, "ring.wav")
    assert config["phone_setting.ring_type"] == "Config:ring.wav"


def test_a_devices_choice_overrides_the_organisations(tenant_a):
    organisation = tenant_a.organisation
    choose(organisation, wallpaper=make_wallpaper(organisation, "logo.png"))
    own = make_wallpaper(organisation, "reception.png")
    DeviceMedia.objects.create(device=tenant_a.device, wallpaper=own)

    config = media_config(tenant_a.device)

    assert config["phone_setting.backgrounds"] == "Config:reception.png"
    assert "ringtone.url" not in config


def test_a_device_moved_to_another_organisation_does_not_keep_the_old_ones_wallpaper(
    tenant_a, tenant_b
):
    choose(tenant_b.organisation, wallpaper=make_wallpaper(tenant_b.organisation, "bravo.png"))
    DeviceMedia.objects.create(
        device=tenant_a.device, wallpaper=make_wallpaper(tenant_a.organisation, "alpha.png")
    )
    tenant_a.device.organisation = tenant_b.organisation
    tenant_a.device.save()

    config = media_config(tenant_a.device)

    assert config["phone_setting.backgrounds"] == "Config:bravo.png"


def test_another_organisations_choices_never_reach_this_phone(tenant_a, tenant_b):
    choose(tenant_a.organisation, wallpaper=make_wallpaper(tenant_a.organisation, "alpha.png"))

    config = media_config(tenant_b.device)

    assert "wallpaper_upload.url" not in config


def test_enabled_custom_softkeys_point_at_the_files_there_are(tenant_a):
    softkey("CallIn")
    softkey("RingBack", "ringback-v2")
    choose(tenant_a.organisation, custom_softkeys_enabled=True)

    config = media_config(tenant_a.device)

    assert config["phone_setting.custom_softkey_enable"] == "1"
    assert config["custom_softkey_call_in.url"] == URL + "xml/_global/CallIn.xml"
    assert config["custom_softkey_ring_back.url"] == URL + "xml/_global/ringback-v2.xml"
    assert "custom_softkey_talking.url" not in config


def test_softkeys_are_not_sent_to_an_organisation_that_has_not_enabled_them(tenant_a):
    softkey("CallIn")

    assert "custom_softkey_call_in.url" not in media_config(tenant_a.device)


def test_a_current_ca_certificate_is_trusted(tenant_a):
    make_ca_certificate()

    config = media_config(tenant_a.device)

    assert config["static.trusted_certificates.url"] == URL + "ca.crt"
    assert config["static.security.trust_certificates"] == "1"


def test_the_contributor_reads_names_not_bytes_and_keeps_them_per_organisation(settings, tenant_a):
    organisation = tenant_a.organisation
    choose(
        organisation,
        wallpaper=make_wallpaper(organisation, "logo.png"),
        ringtone=make_ringtone(organisation, "ring.wav"),
        custom_softkeys_enabled=True,
    )
    DeviceMedia.objects.create(device=tenant_a.device, ringtone=make_ringtone(None, "g.wav"))
    other = make_device(organisation, "805ec0aaaa99")
    for state in ("CallIn", "Talking", "Dialing"):
        softkey(state)
    make_ca_certificate()
    settings.CONFIG_CACHE = True
    cache.bump()

    with CaptureQueriesContext(connection) as first:
        config = media_config(tenant_a.device)
    with CaptureQueriesContext(connection) as second:
        other_config = media_config(other)

    # The organisation's choices, its phones' own choices, the softkey files, whether a CA
    # is current; then nothing for the next phone of the organisation.
    assert len(first) == 4
    assert len(second) == 0
    assert not any('"content"' in query["sql"] or '"pem"' in query["sql"] for query in first)
    assert config["ringtone.url"] == at(tenant_a.device, "g.wav")
    assert other_config["ringtone.url"] == at(other, "ring.wav")


def test_a_changed_choice_reaches_the_next_mac_file(settings, tenant_a):
    settings.CONFIG_CACHE = True
    cache.bump()
    organisation = tenant_a.organisation
    choose(organisation, ringtone=make_ringtone(organisation, "ring.wav"))
    assert media_config(tenant_a.device)["ringtone.url"] == at(tenant_a.device, "ring.wav")

    DeviceMedia.objects.create(device=tenant_a.device, ringtone=make_ringtone(None, "g.wav"))

    assert media_config(tenant_a.device)["ringtone.url"] == at(tenant_a.device, "g.wav")


def test_every_key_it_writes_is_a_known_yealink_key(tenant_a):
    organisation = tenant_a.organisation
    choose(
        organisation,
        wallpaper=make_wallpaper(organisation),
        ringtone=make_ringtone(organisation),
        custom_softkeys_enabled=True,
    )
    for state in ("CallIn", "Connecting", "Dialing", "RingBack", "Talking", "CallFailed"):
        softkey(state)
    make_ca_certificate()

    config = media_config(tenant_a.device)

    assert len(config) == 13
    assert unknown_keys(config) == []


def test_the_mac_file_carries_the_media_keys(client, tenant_a):
    choose(tenant_a.organisation, wallpaper=make_wallpaper(tenant_a.organisation, "logo.png"))

    response = client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers())

    url = at(tenant_a.device, "logo.png")
    assert f"wallpaper_upload.url = {url}\n".encode() in response.content
    assert b"phone_setting.backgrounds = Config:logo.png\n" in response.content


def test_raw_overrides_still_beat_the_media_keys(tenant_a):
    choose(tenant_a.organisation, wallpaper=make_wallpaper(tenant_a.organisation, "logo.png"))
    tenant_a.device.raw_overrides = "phone_setting.backgrounds = Config:other.png"

    assert device_config(tenant_a.device)["phone_setting.backgrounds"] == "Config:other.png"


def test_the_ca_certificate_url_is_empty_until_one_is_current(db):
    assert ca_certificate_url() == ""

    certificate = make_ca_certificate()
    assert ca_certificate_url() == URL + "ca.crt"

    CaCertificate.objects.filter(pk=certificate.pk).update(is_active=False)
    assert ca_certificate_url() == ""


def test_the_ca_certificate_url_stays_the_same_when_the_certificate_is_replaced(db):
    make_ca_certificate("2026")
    before = ca_certificate_url()

    make_ca_certificate("2027")

    assert ca_certificate_url() == before
    assert CaCertificate.objects.get(is_active=True).label == "2027"


def test_an_organisation_without_media_choices_of_its_own_is_not_confused_with_another(tenant_a):
    other = make_organisation("charlie")
    choose(other, wallpaper=make_wallpaper(other, "charlie.png"), custom_softkeys_enabled=True)

    assert media_config(tenant_a.device) == {"phone_setting.custom_softkey_enable": "0"}
