"""Uploading and choosing media in the Django admin."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from media_assets.models import CaCertificate, OrganisationMedia, Ringtone, SoftkeyFile, Wallpaper
from tests.media_assets.admin_pages import page_data
from tests.media_assets.media import (
    broken_certificate_pem,
    certificate_der,
    certificate_pem,
    g711_wav,
    image_bytes,
    make_ca_certificate,
    make_ringtone,
    make_wallpaper,
    pcm_wav,
)


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def add_wallpaper(client, data: bytes, filename: str = "logo.png", **fields):
    url = reverse("admin:media_assets_wallpaper_add")
    return client.post(url, {"name": "", "upload": upload(filename, data), **fields})


def add_ringtone(client, data: bytes, filename: str = "ring.wav", **fields):
    url = reverse("admin:media_assets_ringtone_add")
    return client.post(url, {"name": "", "upload": upload(filename, data), **fields})


def errors(response) -> str:
    assert response.status_code == 200, "expected the form again, with errors"
    form = response.context["adminform"].form
    return " ".join(str(message) for messages in form.errors.values() for message in messages)


# --- wallpapers -----------------------------------------------------------------------------


def test_an_uploaded_wallpaper_is_stored_with_its_size_checksum_and_pixels(admin_client, tenant_a):
    data = image_bytes(800, 480)

    response = add_wallpaper(admin_client, data, organisation=tenant_a.organisation.pk)

    assert response.status_code == 302
    wallpaper = Wallpaper.objects.get()
    assert (wallpaper.name, wallpaper.organisation) == ("logo.png", tenant_a.organisation)
    assert bytes(wallpaper.content) == data
    assert (wallpaper.size, wallpaper.width, wallpaper.height) == (len(data), 800, 480)
    assert wallpaper.content_type == "image/png"


def test_an_uploaded_file_name_is_made_safe_for_a_url(admin_client, db):
    add_wallpaper(admin_client, image_bytes(), filename="My Logo (1).png")

    assert Wallpaper.objects.get().name == "My-Logo-1-.png"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (image_bytes(400, 300)[:300], "damaged or truncated"),
        (b"just some text, renamed\n", "not an image"),
        (image_bytes(3000, 3000), "3000x3000"),
    ],
    ids=["truncated", "text", "too-many-pixels"],
)
def test_a_bad_image_is_refused_with_a_message_and_nothing_is_stored(
    admin_client, db, data, message
):
    response = add_wallpaper(admin_client, data)

    assert message in errors(response)
    assert not Wallpaper.objects.exists()


@pytest.mark.parametrize(
    ("add", "data", "message"),
    [
        (
            "wallpaper",
            b"just some text, renamed\n",
            "This is not an image the phones can show (a renamed or corrupt file?); upload a "
            "PNG, JPEG or BMP.",
        ),
        (
            "wallpaper",
            image_bytes(400, 300)[:300],
            "The image is damaged or truncated; export it again.",
        ),
    ],
    ids=["not-an-image", "truncated-image"],
)
def test_staff_read_what_is_wrong_with_a_file_in_plain_words(client, tenant_a, add, data, message):
    # Organisation staff upload these: no library's name or words in what they read.
    from organisations.staff import create_organisation_staff

    client.force_login(
        create_organisation_staff(tenant_a.organisation, "alice", "x", validate=False)
    )

    response = (add_wallpaper if add == "wallpaper" else add_ringtone)(client, data)

    assert errors(response) == message


def test_a_jpeg_named_png_is_refused(admin_client, db):
    response = add_wallpaper(admin_client, image_bytes(100, 100, "JPEG"), filename="logo.png")

    assert "its name must end in .jpg or .jpeg" in errors(response)


def test_a_second_logo_png_of_the_same_organisation_is_refused(admin_client, tenant_a):
    make_wallpaper(tenant_a.organisation, "logo.png")

    response = add_wallpaper(admin_client, image_bytes(), organisation=tenant_a.organisation.pk)

    assert "Alpha already has a wallpaper named logo.png." in errors(response)
    assert Wallpaper.objects.count() == 1


def test_renaming_keeps_the_bytes_without_a_new_upload(admin_client, tenant_a):
    wallpaper = make_wallpaper(tenant_a.organisation, "logo.png")
    url = reverse("admin:media_assets_wallpaper_change", args=[wallpaper.pk])

    response = admin_client.post(url, {"organisation": tenant_a.organisation.pk, "name": "new.png"})

    assert response.status_code == 302
    wallpaper.refresh_from_db()
    assert wallpaper.name == "new.png"
    assert wallpaper.size == len(bytes(wallpaper.content)) > 0


def test_the_wallpaper_list_never_loads_the_bytes(admin_client, tenant_a):
    for number in range(5):
        make_wallpaper(tenant_a.organisation, f"w{number}.png")

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse("admin:media_assets_wallpaper_changelist"))

    assert response.status_code == 200
    assert b"w4.png" in response.content
    assert not [q for q in queries if '"content"' in q["sql"]]


def test_the_wallpaper_page_shows_a_preview_served_to_staff(admin_client, tenant_a):
    data = image_bytes(100, 50)
    wallpaper = make_wallpaper(tenant_a.organisation, "logo.png", data)

    page = admin_client.get(reverse("admin:media_assets_wallpaper_change", args=[wallpaper.pk]))
    file = admin_client.get(reverse("admin:media_assets_wallpaper_file", args=[wallpaper.pk]))

    assert (
        reverse("admin:media_assets_wallpaper_file", args=[wallpaper.pk]).encode() in page.content
    )
    assert file.content == data


def test_the_preview_is_not_served_to_anonymous_visitors(client, tenant_a):
    wallpaper = make_wallpaper(tenant_a.organisation, "logo.png")

    response = client.get(reverse("admin:media_assets_wallpaper_file", args=[wallpaper.pk]))

    assert response.status_code == 302  # to the login page


# --- ringtones ------------------------------------------------------------------------------


def test_a_pcm_ringtone_is_stored_with_its_codec_and_duration(admin_client, db):
    response = add_ringtone(admin_client, pcm_wav(seconds=1.5))

    assert response.status_code == 302
    ringtone = Ringtone.objects.get()
    assert (ringtone.codec, ringtone.duration_ms) == ("PCM, 16-bit", 1500)


def test_a_g711_ringtone_is_accepted(admin_client, db):
    assert add_ringtone(admin_client, g711_wav(6)).status_code == 302
    assert Ringtone.objects.get().codec == "G.711 A-law, 8-bit"


def test_a_stereo_44_1_khz_ringtone_is_refused(admin_client, db):
    response = add_ringtone(admin_client, pcm_wav(rate=44100, channels=2, seconds=0.3))

    assert "stereo, 44.1 kHz" in errors(response)
    assert not Ringtone.objects.exists()


def test_a_ringtone_must_be_named_wav(admin_client, db):
    response = add_ringtone(admin_client, pcm_wav(), filename="ring.mp3")

    assert "must end in .wav" in errors(response)


# --- CA certificate -------------------------------------------------------------------------


def add_certificate(client, data: bytes, filename: str = "ca.pem", active: bool = True):
    fields = {"label": "Provider CA", "upload": upload(filename, data)}
    if active:
        fields["is_active"] = "on"
    return client.post(reverse("admin:media_assets_cacertificate_add"), fields)


@pytest.mark.parametrize("encoding", ["pem", "der"])
def test_a_certificate_is_accepted_as_pem_or_der_and_stored_as_pem(admin_client, db, encoding):
    data = certificate_pem() if encoding == "pem" else certificate_der()

    response = add_certificate(admin_client, data, f"ca.{encoding}")

    assert response.status_code == 302
    stored = CaCertificate.objects.get()
    assert stored.pem.startswith("-----BEGIN CERTIFICATE-----")
    assert stored.subject == "CN=Test Root CA"


def test_a_certificate_with_a_broken_body_is_refused(admin_client, db):
    response = add_certificate(admin_client, broken_certificate_pem())

    assert "not a certificate we can read" in errors(response)
    assert not CaCertificate.objects.exists()


def test_a_new_current_certificate_replaces_the_old_one(admin_client, db):
    old = make_ca_certificate("Old")

    add_certificate(admin_client, certificate_pem("New"))

    old.refresh_from_db()
    assert not old.is_active
    assert CaCertificate.objects.get(is_active=True).subject == "CN=New"


def test_a_certificate_that_is_not_a_ca_is_saved_with_a_warning(admin_client, db):
    response = add_certificate(admin_client, certificate_pem(ca=False))

    assert response.status_code == 302
    page = admin_client.get(response.url)
    assert b"is not marked as a CA" in page.content


def test_the_make_current_action_switches_certificates(admin_client, db):
    old = make_ca_certificate("Old")
    make_ca_certificate("New")

    admin_client.post(
        reverse("admin:media_assets_cacertificate_changelist"),
        {"action": "make_current", "_selected_action": [old.pk]},
    )

    assert CaCertificate.objects.get(is_active=True) == old


# --- softkey files --------------------------------------------------------------------------


def add_softkey(client, content: str, name: str = ""):
    return client.post(
        reverse("admin:media_assets_softkeyfile_add"), {"name": name, "content": content}
    )


def test_a_softkey_file_is_named_after_its_call_state(admin_client, db):
    response = add_softkey(admin_client, '<Talk><Enable><Key Type="Hold"/></Enable></Talk>')

    assert response.status_code == 302
    softkey = SoftkeyFile.objects.get()
    assert (softkey.name, softkey.call_state) == ("Talking", "Talking")


def test_a_talking_file_rooted_in_talking_is_refused_saying_what_the_phone_reads(admin_client, db):
    response = add_softkey(admin_client, '<Talking><Enable><Key Type="Hold"/></Enable></Talking>')

    assert response.status_code == 200
    assert "The phone reads Talking.xml by its sub-states and never looks at" in (
        response.content.decode()
    )
    assert not SoftkeyFile.objects.exists()


def test_a_softkey_file_with_another_root_is_refused(admin_client, db):
    response = add_softkey(admin_client, "<Menu/>")

    assert "root element is <Menu>" in errors(response)
    assert not SoftkeyFile.objects.exists()


def test_a_softkey_file_that_is_not_xml_is_refused(admin_client, db):
    assert "not well-formed" in errors(add_softkey(admin_client, "<CallIn><Key></CallIn>"))


def test_a_second_file_for_one_call_state_is_refused(admin_client, db):
    add_softkey(admin_client, "<CallIn/>")

    response = add_softkey(admin_client, "<CallIn><Enable/></CallIn>", name="other")

    assert "CallIn.xml is the CallIn file already" in errors(response)


def test_the_add_page_offers_an_example(admin_client, db):
    response = admin_client.get(reverse("admin:media_assets_softkeyfile_add"))

    assert b"&lt;CallIn&gt;" in response.content


# --- choosing, on the organisation and device pages -----------------------------------------


def test_the_organisation_page_offers_its_own_and_global_wallpapers_only(
    admin_client, tenant_a, tenant_b
):
    make_wallpaper(tenant_a.organisation, "alpha-only.png")
    make_wallpaper(tenant_b.organisation, "bravo-only.png")
    make_wallpaper(None, "shared.png")

    url = reverse("admin:organisations_organisation_change", args=[tenant_a.organisation.pk])
    response = admin_client.get(url)

    assert b"alpha-only.png" in response.content
    assert b"shared.png (global)" in response.content
    assert b"bravo-only.png" not in response.content


def test_the_device_page_offers_its_organisations_ringtones_only(admin_client, tenant_a, tenant_b):
    make_ringtone(tenant_a.organisation, "alpha.wav")
    make_ringtone(tenant_b.organisation, "bravo.wav")

    url = reverse("admin:devices_device_change", args=[tenant_b.device.pk])
    response = admin_client.get(url)

    assert b"bravo.wav" in response.content
    assert b"alpha.wav" not in response.content


def test_the_organisation_page_saves_the_media_choice(admin_client, tenant_a):
    wallpaper = make_wallpaper(tenant_a.organisation, "logo.png")
    url = reverse("admin:organisations_organisation_change", args=[tenant_a.organisation.pk])
    data = page_data(admin_client, url)
    data.update({"media-0-wallpaper": wallpaper.pk, "media-0-custom_softkeys_enabled": "on"})

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    media = OrganisationMedia.objects.get()
    assert (media.wallpaper, media.custom_softkeys_enabled) == (wallpaper, True)


def test_the_lists_filter_global_files_from_an_organisations(admin_client, tenant_a):
    make_wallpaper(tenant_a.organisation, "own.png")
    make_wallpaper(None, "shared.png")
    url = reverse("admin:media_assets_wallpaper_changelist")

    global_only = admin_client.get(url, {"global": "yes"}).context["cl"].result_list
    own_only = admin_client.get(url, {"global": "no"}).context["cl"].result_list

    assert [w.name for w in global_only] == ["shared.png"]
    assert [w.name for w in own_only] == ["own.png"]
