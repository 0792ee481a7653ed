"""The media admin in Dutch for a browser that asks for it, English by default; a refused
file is told in plain words, and its detail (a parser's words, a command that converts it)
only to provider staff (issue 18, parts 6 and 4)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from media_assets.models import CaCertificate, Ringtone, SoftkeyFile
from organisations.scoping import PROVIDER_GROUP
from organisations.staff import create_organisation_staff
from tests.media_assets.media import (
    broken_certificate_pem,
    image_bytes,
    make_wallpaper,
    pcm_wav,
)
from tests.media_assets.test_admin import (
    add_certificate,
    add_ringtone,
    add_softkey,
    errors,
)

NL = {"accept-language": "nl"}
LIBRARIES = ("cryptography", "lxml", "Pillow", "PIL", "sox", "SoX", "libxml")


@pytest.fixture
def staff_a(client, tenant_a):
    client.force_login(
        create_organisation_staff(tenant_a.organisation, "alice", "x", validate=False)
    )
    return client


@pytest.fixture
def provider(client, db):
    """Provider staff who are not superusers: the detail follows the group, not the flag."""
    from django.contrib.auth import get_user_model

    from organisations.scoping import sync_groups

    sync_groups()
    user = get_user_model().objects.create_user("paula", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=PROVIDER_GROUP))
    client.force_login(user)
    return client


def without_libraries(text: str) -> bool:
    return not any(name in text for name in LIBRARIES)


def test_the_wallpaper_list_is_in_dutch_for_a_dutch_browser(admin_client, tenant_a):
    make_wallpaper(None, "shared.png")
    url = reverse("admin:media_assets_wallpaper_changelist")

    dutch = admin_client.get(url, headers=NL).content.decode()
    english = admin_client.get(url).content.decode()

    assert "Achtergronden" in dutch
    assert "bereik" in dutch  # the filter's title
    assert "— globaal —" in dutch
    assert "Wallpapers" in english
    assert "— global —" in english


def test_staff_read_a_refused_image_in_dutch(staff_a):
    data = {"name": "", "upload": SimpleUploadedFile("big.png", image_bytes(2000, 1200))}

    response = staff_a.post(reverse("admin:media_assets_wallpaper_add"), data, headers=NL)

    assert errors(response).startswith("De afbeelding is 2000x1200 (2.4 megapixel)")
    assert "achtergrond toevoegen" in response.content.decode()


def test_staff_read_a_refused_ringtone_in_plain_dutch_without_the_command(staff_a):
    url = reverse("admin:media_assets_ringtone_add")
    data = {"name": "", "upload": SimpleUploadedFile("ring.wav", pcm_wav(rate=44100, channels=2))}
    response = staff_a.post(url, data, headers=NL)

    message = errors(response)
    assert "Sla het bestand in uw audioprogramma op als WAV, 16-bit PCM, mono, 8000 Hz" in message
    assert "stereo, 44.1 kHz" in message
    assert without_libraries(message)
    assert not Ringtone.objects.exists()


def test_the_provider_also_reads_how_to_convert_a_ringtone(provider):
    response = add_ringtone(provider, pcm_wav(rate=44100, channels=2))

    message = errors(response)
    assert "Save it in your audio program as WAV" in message
    assert "For the provider: To convert it with SoX: sox in.wav -r 8000" in message


def test_a_broken_certificate_is_refused_in_plain_words_with_the_parsers_for_the_provider(
    provider,
):
    response = add_certificate(provider, broken_certificate_pem())

    plain, detail = response.context["adminform"].form.errors["upload"]
    assert plain.startswith("This file is not a certificate we can read.")
    assert without_libraries(plain)
    assert detail.startswith("For the provider: The X.509 parser (cryptography) said: ")
    assert not CaCertificate.objects.exists()


def test_a_broken_certificate_is_refused_in_dutch(provider):
    url = reverse("admin:media_assets_cacertificate_add")
    data = {"label": "CA", "upload": SimpleUploadedFile("ca.pem", broken_certificate_pem())}
    response = provider.post(url, data, headers=NL)

    assert "Dit bestand is geen certificaat dat wij kunnen lezen." in errors(response)
    assert "Voor de provider: De X.509-parser (cryptography) meldde:" in errors(response)


def test_organisation_staff_cannot_reach_certificates_or_softkey_files(staff_a):
    for model in ("cacertificate", "softkeyfile"):
        response = staff_a.get(reverse(f"admin:media_assets_{model}_add"))
        assert response.status_code == 403, model


def test_bad_softkey_xml_names_the_line_and_the_parsers_words_go_to_the_provider(provider):
    response = add_softkey(provider, "<CallIn>\n  <Enable>\n</CallIn>")

    form = response.context["adminform"].form
    [plain] = form.errors["content"]
    [detail] = form.non_field_errors()
    assert plain.startswith("This is not well-formed XML: there is a mistake on line 3")
    assert without_libraries(plain)
    assert detail.startswith("For the provider: The XML parser (lxml) said: ")
    assert not SoftkeyFile.objects.exists()


def test_an_undeclared_entity_is_named_in_plain_words(provider):
    response = add_softkey(provider, "<Talk><Enable>&xxe;</Enable></Talk><Hold/>", name="")

    [plain] = response.context["adminform"].form.errors["content"]
    assert "&xxe; on line 1 is not known to the phones" in plain
    assert without_libraries(plain)
