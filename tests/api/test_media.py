"""/api/v1/wallpapers, /api/v1/ringtones and the media choices, through HTTP with real
tokens and real files (Pillow images, `wave` WAVs)."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.test.utils import CaptureQueriesContext

from media_assets.models import DeviceMedia, OrganisationMedia, Ringtone, Wallpaper
from tests.api.conftest import pointers, problem
from tests.media_assets.media import image_bytes, pcm_wav

WALLPAPERS = "/api/v1/wallpapers"
RINGTONES = "/api/v1/ringtones"


def png(name: str = "logo.png", **kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes(**kwargs), content_type="image/png")


def wav(name: str = "ring.wav", seconds: float = 0.5) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, pcm_wav(seconds=seconds), content_type="audio/wav")


def multipart_patch(api, url: str, data: dict):
    """The test client's patch() does not encode multipart by itself."""
    return api.client.patch(
        url,
        encode_multipart(BOUNDARY, data),
        content_type=MULTIPART_CONTENT,
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )


def stored(model, organisation, name: str, data: bytes, **fields):
    item = model(organisation=organisation, name=name, **fields)
    item.set_content(data, "image/png" if model is Wallpaper else "audio/wav")
    item.save()
    return item


@pytest.fixture
def wallpaper_a(tenant_a):
    return stored(Wallpaper, tenant_a.organisation, "alpha.png", image_bytes(), width=64, height=48)


@pytest.fixture
def wallpaper_b(tenant_b):
    return stored(Wallpaper, tenant_b.organisation, "beta.png", image_bytes(), width=64, height=48)


@pytest.fixture
def shared_wallpaper(db):
    return stored(Wallpaper, None, "shared.png", image_bytes(), width=64, height=48)


# --- uploads -------------------------------------------------------------------------------


def test_an_image_is_uploaded_and_shown_without_its_bytes(api_a, tenant_a):
    response = api_a.upload(WALLPAPERS, {"file": png("My Logo.png", width=80, height=60)})

    assert response.status_code == 201, response.content
    body = response.json()
    wallpaper = Wallpaper.objects.get()
    assert body["name"] == wallpaper.name == "My-Logo.png"  # as the admin names it
    assert body["organisation"] == "alpha" and wallpaper.organisation == tenant_a.organisation
    assert (body["width"], body["height"], body["content_type"]) == (80, 60, "image/png")
    assert body["size"] == wallpaper.size == len(bytes(wallpaper.content))
    assert body["phone_url"].endswith("/My-Logo.png")
    assert "content" not in body and body["fitted"] == []
    assert "through the API" in LogEntry.objects.get().change_message


def test_a_jpeg_keeps_its_given_name_and_a_wrong_extension_is_refused(api_a):
    jpeg = SimpleUploadedFile("x.jpg", image_bytes(fmt="JPEG"), content_type="image/jpeg")
    named = api_a.upload(WALLPAPERS, {"file": jpeg, "name": "desk.jpg"})
    assert named.status_code == 201 and named.json()["content_type"] == "image/jpeg"

    again = SimpleUploadedFile("x.jpg", image_bytes(fmt="JPEG"), content_type="image/jpeg")
    wrong = api_a.upload(WALLPAPERS, {"file": again, "name": "desk.png"})
    assert wrong.status_code == 400
    assert problem(wrong)["errors"][0]["message"] == (
        "The image is image/jpeg; its name must end in .jpg or .jpeg."
    )


def test_a_corrupt_image_is_refused_with_the_admins_message_and_nothing_stored(api_a):
    data = image_bytes(fmt="JPEG")
    damaged = SimpleUploadedFile("photo.jpg", data[: len(data) // 2], content_type="image/jpeg")

    response = api_a.upload(WALLPAPERS, {"file": damaged})

    assert response.status_code == 400
    assert problem(response)["errors"] == [
        {
            "pointer": "/file",
            "code": "corrupt_image",
            "message": "The image is damaged or truncated; export it again.",
        }
    ]
    assert not Wallpaper.objects.exists()


def test_a_file_that_is_no_image_is_refused(api_a):
    fake = SimpleUploadedFile("fake.png", b"MZ\x90\x00 not a picture", content_type="image/png")

    response = api_a.upload(WALLPAPERS, {"file": fake})

    assert pointers(response) == {"/file": "not_an_image"}
    assert not Wallpaper.objects.exists()


def test_a_ringtone_is_uploaded_with_its_codec_and_duration(api_a):
    response = api_a.upload(RINGTONES, {"file": wav(seconds=0.5)})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["codec"], body["duration_ms"]) == ("ring.wav", "PCM, 16-bit", 500)
    assert body["content_type"] == "audio/wav"
    assert Ringtone.objects.get().size == body["size"]


def test_an_oversized_ringtone_is_refused_with_the_admins_message_and_nothing_stored(api_a):
    response = api_a.upload(RINGTONES, {"file": wav(seconds=40)})  # 640 KB of 16-bit PCM

    assert response.status_code == 400
    [error] = problem(response)["errors"]
    assert (error["pointer"], error["code"]) == ("/file", "too_large")
    assert error["message"] == "The ringtone is 625 KB; the limit is 512 KB."
    assert not Ringtone.objects.exists()


def test_a_stereo_or_damaged_wav_is_refused(api_a):
    data = pcm_wav()
    damaged = SimpleUploadedFile("cut.wav", data[:200], content_type="audio/wav")

    response = api_a.upload(RINGTONES, {"file": damaged})

    assert response.status_code == 400
    assert pointers(response) == {"/file": "truncated_wav"}
    assert not Ringtone.objects.exists()


def test_an_upload_without_a_file_is_a_400(api_a):
    response = api_a.upload(WALLPAPERS, {"name": "x.png"})

    assert pointers(response) == {"/file": "required"}


def test_a_name_taken_in_the_organisation_is_refused_with_the_admins_message(api_a, wallpaper_a):
    response = api_a.upload(WALLPAPERS, {"file": png("alpha.png")})

    assert problem(response)["errors"][0]["message"] == (
        "Alpha already has a wallpaper named alpha.png."
    )
    assert Wallpaper.objects.count() == 1


def test_a_provider_uploads_a_shared_file_and_one_for_an_organisation(provider_api, tenant_b):
    shared = provider_api.upload(WALLPAPERS, {"file": png("all.png")})
    theirs = provider_api.upload(WALLPAPERS, {"file": png("b.png"), "organisation": "bravo"})

    assert shared.json()["organisation"] is None
    assert theirs.status_code == 201, theirs.content
    assert theirs.json()["organisation"] == "bravo"


# --- changes and who may make them -----------------------------------------------------------


def test_a_name_is_changed_and_the_file_replaced(api_a, wallpaper_a):
    url = f"{WALLPAPERS}/{wallpaper_a.pk}"

    renamed = api_a.patch(url, {"name": "front.png"})
    replaced = multipart_patch(api_a, url, {"file": png(width=100, height=50)})

    assert renamed.status_code == 200, renamed.content
    assert replaced.status_code == 200, replaced.content
    wallpaper_a.refresh_from_db()
    assert (wallpaper_a.name, wallpaper_a.width) == ("front.png", 100)
    assert replaced.json()["width"] == 100
    assert api_a.patch(url, {"name": "a b.png"}).status_code == 400


def test_shared_media_are_visible_to_organisations_and_read_only(api_a, shared_wallpaper):
    url = f"{WALLPAPERS}/{shared_wallpaper.pk}"

    assert api_a.get(url).json()["organisation"] is None
    for response in (api_a.patch(url, {"name": "mine.png"}), api_a.delete(url)):
        assert response.status_code == 403
        assert problem(response)["code"] == "shared_object"
    assert Wallpaper.objects.get().name == "shared.png"


def test_another_organisations_media_are_a_404(api_a, wallpaper_b):
    url = f"{WALLPAPERS}/{wallpaper_b.pk}"

    assert api_a.get(WALLPAPERS).json()["results"] == []
    for response in (api_a.get(url), api_a.patch(url, {"name": "x.png"}), api_a.delete(url)):
        assert response.status_code == 404
    assert Wallpaper.objects.get().name == "beta.png"


def test_an_organisation_token_cannot_upload_into_another_organisation(api_a, tenant_b):
    response = api_a.upload(WALLPAPERS, {"file": png(), "organisation": "bravo"})

    assert pointers(response) == {"/organisation": "does_not_exist"}
    assert not Wallpaper.objects.exists()


def test_a_read_only_token_cannot_upload_change_or_delete(read_only_api_a, wallpaper_a):
    url = f"{WALLPAPERS}/{wallpaper_a.pk}"

    assert read_only_api_a.get(url).status_code == 200
    for response in (
        read_only_api_a.upload(WALLPAPERS, {"file": png("new.png")}),
        read_only_api_a.patch(url, {"name": "x.png"}),
        read_only_api_a.delete(url),
        read_only_api_a.patch("/api/v1/devices/805ec0aaaa01/choices", {"wallpaper": None}),
    ):
        assert response.status_code == 403
        assert problem(response)["code"] == "read_only_token"
    assert Wallpaper.objects.count() == 1


def test_a_file_in_use_is_not_deleted(api_a, tenant_a, wallpaper_a):
    OrganisationMedia.objects.create(organisation=tenant_a.organisation, wallpaper=wallpaper_a)

    response = api_a.delete(f"{WALLPAPERS}/{wallpaper_a.pk}")

    assert response.status_code == 409 and problem(response)["code"] == "in_use"
    assert Wallpaper.objects.exists()
    OrganisationMedia.objects.all().delete()
    assert api_a.delete(f"{WALLPAPERS}/{wallpaper_a.pk}").status_code == 204
    assert not Wallpaper.objects.exists()


@pytest.mark.parametrize("url", [WALLPAPERS, RINGTONES])
def test_a_list_page_costs_the_same_queries_for_2_and_20_files(provider_api, tenant_a, url):
    model = Wallpaper if url == WALLPAPERS else Ringtone

    def queries(count: int) -> int:
        model.objects.all().delete()
        for index in range(count):
            organisation = tenant_a.organisation if index % 2 else None
            ext = "png" if model is Wallpaper else "wav"
            stored(model, organisation, f"f{index}.{ext}", b"x" * 10)
        provider_api.get(url)  # the token's first use is recorded once
        with CaptureQueriesContext(connection) as captured:
            response = provider_api.get(url)
        assert len(response.json()["results"]) == count
        columns = [q["sql"].split(" FROM ")[0] for q in captured.captured_queries]
        assert not any('."content"' in selected for selected in columns)  # never the bytes
        return len(captured)

    assert queries(2) == queries(20)


# --- choices -------------------------------------------------------------------------------


def test_an_organisations_choices_are_read_before_any_were_made(api_a):
    response = api_a.get("/api/v1/organisations/alpha/choices")

    assert response.status_code == 200
    assert response.json() == {
        "organisation": "alpha",
        "wallpaper": None,
        "ringtone": None,
        "custom_softkeys_enabled": False,
    }


def test_organisation_staff_may_not_change_their_organisations_choices_as_the_registry_says(
    api_a, wallpaper_a
):
    response = api_a.patch("/api/v1/organisations/alpha/choices", {"wallpaper": wallpaper_a.pk})

    assert response.status_code == 403 and problem(response)["code"] == "not_permitted"
    assert not OrganisationMedia.objects.exists()


def test_a_provider_sets_an_organisations_choices_and_the_phone_gets_them(
    client, provider_api, tenant_a, wallpaper_a, shared_wallpaper
):
    before = client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers()).content.decode()
    assert "alpha.png" not in before

    body = {"wallpaper": wallpaper_a.pk, "ringtone": None, "custom_softkeys_enabled": True}
    response = provider_api.put("/api/v1/organisations/alpha/choices", body)

    assert response.status_code == 200, response.content
    assert OrganisationMedia.objects.get().wallpaper == wallpaper_a
    config = client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers()).content.decode()
    assert "phone_setting.backgrounds = Config:alpha.png" in config
    assert "phone_setting.custom_softkey_enable = 1" in config
    entry = LogEntry.objects.get(object_id=str(tenant_a.organisation.pk))
    assert entry.change_message.startswith("Changed custom_softkeys_enabled, ringtone, wallpaper")


def test_a_provider_cannot_give_an_organisation_anothers_wallpaper(
    provider_api, tenant_a, wallpaper_b
):
    response = provider_api.patch(
        "/api/v1/organisations/alpha/choices", {"wallpaper": wallpaper_b.pk}
    )

    assert response.status_code == 400
    assert problem(response)["errors"] == [
        {
            "pointer": "/wallpaper",
            "code": "invalid",
            "message": "Wallpaper beta.png does not belong to organisation Alpha.",
        }
    ]
    assert not OrganisationMedia.objects.exists()


def test_a_phones_own_choice_by_an_organisation_token_reaches_its_mac_file(
    client, api_a, tenant_a, wallpaper_a
):
    response = api_a.patch(
        "/api/v1/devices/80-5E-C0-AA-AA-01/choices", {"wallpaper": wallpaper_a.pk}
    )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "device": "805ec0aaaa01",
        "wallpaper": wallpaper_a.pk,
        "ringtone": None,
    }
    assert DeviceMedia.objects.get().device == tenant_a.device
    config = client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers()).content.decode()
    assert "phone_setting.backgrounds = Config:alpha.png" in config
    assert api_a.get("/api/v1/devices/805ec0aaaa01/choices").json()["wallpaper"] == wallpaper_a.pk


def test_a_phone_cannot_choose_another_organisations_wallpaper(api_a, tenant_a, wallpaper_b):
    response = api_a.patch("/api/v1/devices/805ec0aaaa01/choices", {"wallpaper": wallpaper_b.pk})
    nobody = api_a.patch("/api/v1/devices/805ec0aaaa01/choices", {"wallpaper": 999999})

    assert pointers(response) == {"/wallpaper": "does_not_exist"}
    # Said as for an id that is nobody's: nothing tells that beta has it.
    assert problem(response)["errors"][0]["message"].replace(str(wallpaper_b.pk), "?") == (
        problem(nobody)["errors"][0]["message"].replace("999999", "?")
    )
    assert not DeviceMedia.objects.exists()


def test_the_shared_wallpaper_may_be_chosen(api_a, shared_wallpaper):
    response = api_a.put("/api/v1/devices/805ec0aaaa01/choices", {"wallpaper": shared_wallpaper.pk})

    assert response.status_code == 200
    assert DeviceMedia.objects.get().wallpaper == shared_wallpaper


def test_another_organisations_choices_are_a_404(api_a, tenant_b):
    theirs = f"/api/v1/devices/{tenant_b.device.mac}/choices"

    assert api_a.get("/api/v1/organisations/bravo/choices").status_code == 404
    assert api_a.get(theirs).status_code == 404
    assert api_a.patch(theirs, {"wallpaper": None}).status_code == 404
    assert api_a.get("/api/v1/devices/not-a-mac/choices").status_code == 404
    # Refused before any lookup, as for its own: the registry lets staff only view these.
    assert api_a.patch("/api/v1/organisations/bravo/choices", {}).status_code == 403
    assert not DeviceMedia.objects.exists() and not OrganisationMedia.objects.exists()


def test_bad_input_is_refused_never_a_500(api_a, wallpaper_a):
    url = f"{WALLPAPERS}/{wallpaper_a.pk}"
    choices = "/api/v1/devices/805ec0aaaa01/choices"
    for response in (
        api_a.patch(url, {"file": "not a file"}),
        api_a.patch(url, {"name": None}),
        api_a.patch(choices, {"wallpaper": "x"}),
        api_a.patch(choices, {"wallpaper": 2**70}),
        api_a.put(choices, ["x"]),
    ):
        assert response.status_code == 400, response.content
    assert api_a.get(f"{WALLPAPERS}/{2**70}").status_code == 404
    assert api_a.get(f"/api/v1/phonebooks/{2**70}/contacts").status_code == 404
