"""Phones fetch wallpapers, ringtones, softkey XML and the CA certificate."""

import hashlib
import io

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import Resolver404, resolve
from PIL import Image

from devices import serving
from devices.models import AccessLog
from devices.serving import cache
from devices.serving.files import KeptBytes
from media_assets import views
from media_assets.models import Ringtone, WallpaperRendition
from media_assets.renditions import fit_to_screen
from tests.factories import make_device, resource_path, user_agent
from tests.media_assets.media import (
    image_bytes,
    make_ca_certificate,
    make_ringtone,
    make_wallpaper,
    pcm_wav,
)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def phone(tenant, model: str = "T54W") -> dict:
    """A phone's first request: User-Agent with its MAC, no credentials."""
    return {"User-Agent": user_agent(tenant.device, model=model)}


# --- wallpapers and ringtones ---------------------------------------------------------------


def test_a_known_phone_gets_its_organisations_wallpaper_with_headers(client, tenant_a):
    make_wallpaper(tenant_a.organisation, "logo.png", image_bytes(480, 272))

    response = client.get(resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a))

    data = body(response)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Length"] == str(len(data))
    assert response["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    log = AccessLog.objects.get()
    assert (log.outcome, log.device) == ("success", tenant_a.device)
    assert log.path == f"/p/{tenant_a.device.mac}/…/logo.png"  # the token is not logged


def test_a_phone_that_sends_its_credentials_gets_the_file_too(client, tenant_a):
    make_wallpaper(tenant_a.organisation, "logo.png")

    response = client.get("/logo.png", headers=tenant_a.phone_headers())

    assert response.status_code == 200


def test_wrong_credentials_are_refused_even_for_media(client, tenant_a):
    make_wallpaper(tenant_a.organisation, "logo.png")

    response = client.get("/logo.png", headers=tenant_a.phone_headers(password="wrong-one!"))

    assert response.status_code == 401
    assert AccessLog.objects.get().outcome == AccessLog.Outcome.WRONG_CREDENTIALS


def test_a_ringtone_is_served_as_it_was_uploaded(client, tenant_a):
    wav = pcm_wav()
    make_ringtone(tenant_a.organisation, "ring.wav", wav)

    response = client.get(resource_path(tenant_a.device, "ring.wav"), headers=phone(tenant_a))

    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    assert body(response) == wav


def test_the_organisations_file_wins_over_a_global_one_of_the_same_name(client, tenant_a):
    make_ringtone(None, "ring.wav", pcm_wav(seconds=0.2))
    own = pcm_wav(seconds=0.3)
    make_ringtone(tenant_a.organisation, "ring.wav", own)

    response = client.get(resource_path(tenant_a.device, "ring.wav"), headers=phone(tenant_a))

    assert body(response) == own


def test_a_global_file_is_served_to_every_organisation(client, tenant_a, tenant_b):
    wav = pcm_wav()
    make_ringtone(None, "ring.wav", wav)

    for tenant in (tenant_a, tenant_b):
        assert (
            body(client.get(resource_path(tenant.device, "ring.wav"), headers=phone(tenant))) == wav
        )


def test_another_organisations_file_is_a_404(client, tenant_a, tenant_b):
    make_wallpaper(tenant_a.organisation, "alpha.png")

    response = client.get(
        resource_path(tenant_b.device, "alpha.png"), headers=phone(tenant_b, "T46U")
    )

    assert response.status_code == 404
    log = AccessLog.objects.get()
    assert (log.outcome, log.organisation) == (AccessLog.Outcome.NOT_FOUND, tenant_b.organisation)


def test_two_organisations_each_get_their_own_file_of_the_same_name(client, tenant_a, tenant_b):
    alpha, bravo = pcm_wav(seconds=0.2), pcm_wav(seconds=0.4)
    make_ringtone(tenant_a.organisation, "ring.wav", alpha)
    make_ringtone(tenant_b.organisation, "ring.wav", bravo)

    assert (
        body(client.get(resource_path(tenant_a.device, "ring.wav"), headers=phone(tenant_a)))
        == alpha
    )
    assert (
        body(
            client.get(resource_path(tenant_b.device, "ring.wav"), headers=phone(tenant_b, "T46U"))
        )
        == bravo
    )


def test_an_unknown_file_is_a_404_and_logged(client, tenant_a):
    response = client.get(resource_path(tenant_a.device, "nothing.wav"), headers=phone(tenant_a))

    assert response.status_code == 404
    assert AccessLog.objects.get().outcome == AccessLog.Outcome.NOT_FOUND


def test_an_unknown_phone_gets_a_404_logged_as_mac_unknown(client, tenant_a):
    make_wallpaper(None, "logo.png")

    path = "/p/805ec0ffff01/" + "A" * 22 + "/logo.png"
    response = client.get(path, headers={"User-Agent": user_agent("805ec0ffff01")})

    assert response.status_code == 404
    log = AccessLog.objects.get()
    assert log.outcome == AccessLog.Outcome.MAC_UNKNOWN
    assert log.path == "/p/805ec0ffff01/…/logo.png"  # no token in the log


def test_a_request_without_any_phone_identity_gets_nothing(client, tenant_a):
    make_wallpaper(None, "logo.png")

    response = client.get("/logo.png", headers={"User-Agent": "curl/8.0"})

    assert response.status_code == 401  # without a token, only credentials open it
    assert b"PNG" not in response.content


def test_an_inactive_phone_gets_nothing(client, tenant_a):
    make_wallpaper(None, "logo.png")
    tenant_a.device.is_active = False
    tenant_a.device.save()

    assert (
        client.get(resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a)).status_code
        == 404
    )


def test_a_post_is_refused(client, tenant_a):
    make_wallpaper(None, "logo.png")

    assert client.post("/logo.png", headers=phone(tenant_a)).status_code == 405


# --- HEAD and conditional GET ---------------------------------------------------------------


def test_head_sends_the_headers_of_the_full_body_but_no_body(tenant_a):
    make_wallpaper(tenant_a.organisation, "logo.png", image_bytes(480, 272))
    factory = RequestFactory(headers=phone(tenant_a))
    path = resource_path(tenant_a.device, "logo.png")
    match = resolve(path)
    full = views.media_file(factory.get(path), **match.kwargs)
    full_body = body(full)

    # Called directly, not through the test client, which would strip a HEAD body itself.
    head = views.media_file(factory.head(path), **match.kwargs)

    assert head.status_code == 200
    assert isinstance(head, HttpResponse)  # not streamed
    assert head.content == b""
    assert head["Content-Length"] == str(len(full_body))
    assert head["ETag"] == full["ETag"]
    assert head["Content-Type"] == "image/png"


def test_if_none_match_with_the_etag_answers_304_without_loading_the_bytes(
    client, tenant_a, django_assert_num_queries, settings
):
    settings.LAST_SEEN_PRECISION_SECONDS = 0  # every request writes the visit
    settings.MEDIA_CACHE_MAX_FILE_BYTES = 0  # so loading the bytes would show as a query
    serving.reset()
    make_wallpaper(tenant_a.organisation, "logo.png", image_bytes(480, 272))
    etag = client.get(resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a))["ETag"]

    # Device, organisation, wallpaper metadata, access log and its hour's count, last-seen
    # update (the phone proved who it is): no bytes.
    with django_assert_num_queries(6):
        response = client.get(
            resource_path(tenant_a.device, "logo.png"),
            headers={**phone(tenant_a), "If-None-Match": etag},
        )

    assert response.status_code == 304
    assert response["ETag"] == etag
    assert response.content == b""
    log = AccessLog.objects.first()
    assert log is not None
    assert log.outcome == AccessLog.Outcome.SUCCESS


def test_if_none_match_with_another_etag_gets_the_file(client, tenant_a):
    make_wallpaper(tenant_a.organisation, "logo.png")

    response = client.get(
        resource_path(tenant_a.device, "logo.png"),
        headers={**phone(tenant_a), "If-None-Match": '"stale"'},
    )

    assert response.status_code == 200


def test_a_weak_etag_and_a_star_match_too(client, tenant_a):
    make_wallpaper(tenant_a.organisation, "logo.png", image_bytes(480, 272))
    etag = client.get(resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a))["ETag"]

    for header in (f"W/{etag}", '"other", ' + etag, "*"):
        response = client.get(
            resource_path(tenant_a.device, "logo.png"),
            headers={**phone(tenant_a), "If-None-Match": header},
        )
        assert response.status_code == 304, header


# --- cost -----------------------------------------------------------------------------------


def test_serving_costs_the_same_queries_however_many_files_the_organisation_has(
    client, tenant_a, django_assert_num_queries, settings
):
    settings.LAST_SEEN_PRECISION_SECONDS = 0  # every request writes the visit
    make_wallpaper(tenant_a.organisation, "logo.png")
    client.get(
        resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a)
    )  # makes the 480x272 rendition
    # Device, organisation, wallpaper with its rendition, access log and its hour's count,
    # last seen; the rendition's bytes were kept by their hash when it was made.
    with django_assert_num_queries(6):
        first = client.get(resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a))
    for number in range(30):
        make_wallpaper(tenant_a.organisation, f"other-{number}.png", image_bytes(20, 20))
        make_ringtone(tenant_a.organisation, f"other-{number}.wav")

    with django_assert_num_queries(6):
        second = client.get(resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a))

    assert body(first) == body(second)


def test_a_file_over_the_kept_size_is_read_from_its_row_on_every_request(
    client, tenant_a, django_assert_num_queries, settings
):
    settings.LAST_SEEN_PRECISION_SECONDS = 0
    ringtone = make_ringtone(tenant_a.organisation, "ring.wav")
    settings.MEDIA_CACHE_MAX_FILE_BYTES = ringtone.size - 1
    serving.reset()
    client.get(resource_path(tenant_a.device, "ring.wav"), headers=phone(tenant_a))

    # Device, organisation, the ringtone's row, its bytes, access log and its hour's count,
    # last seen.
    with django_assert_num_queries(7):
        response = client.get(resource_path(tenant_a.device, "ring.wav"), headers=phone(tenant_a))

    assert body(response) == bytes(Ringtone.objects.get(pk=ringtone.pk).content)


def test_kept_bytes_stay_within_their_budget_dropping_the_least_recently_used():
    kept = KeptBytes(budget=10, max_file=6)
    kept.keep("a", b"aaaa")
    kept.keep("b", b"bbbb")
    kept.get("a")
    kept.keep("c", b"cccc")  # over budget: "b" was used least recently
    kept.keep("d", b"ddddddd")  # larger than a kept file may be

    assert (kept.get("a"), kept.get("b"), kept.get("c"), kept.get("d")) == (
        b"aaaa",
        None,
        b"cccc",
        None,
    )


# --- fitted to the screen -------------------------------------------------------------------


def pixels(response) -> Image.Image:
    return Image.open(io.BytesIO(body(response)))


@pytest.mark.parametrize(
    ("model", "size"),
    [("T54W", (480, 272)), ("T46U", (480, 272)), ("T57W", (800, 480)), ("T58A", (1024, 600))],
)
def test_a_wallpaper_is_fitted_to_the_requesting_models_screen(client, tenant_a, model, size):
    make_wallpaper(tenant_a.organisation, "logo.png", image_bytes(1200, 900))

    response = client.get(
        resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a, model)
    )

    image = pixels(response)
    assert image.size == size
    assert image.format == "PNG"


def test_fitting_fills_the_screen_and_crops_the_overflow_from_the_middle(client, tenant_a):
    # Square, left half blue, right half red: fitted to 480x272 it is scaled to 480x480
    # and cropped top and bottom, so both halves stay side by side.
    make_wallpaper(tenant_a.organisation, "logo.png", image_bytes(600, 600))

    image = pixels(
        client.get(resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a))
    ).convert("RGB")

    assert image.size == (480, 272)
    assert image.getpixel((10, 136)) == (20, 20, 120)
    assert image.getpixel((470, 136)) == (200, 30, 30)


def test_a_jpeg_wallpaper_stays_a_jpeg(client, tenant_a):
    make_wallpaper(tenant_a.organisation, "photo.jpg", image_bytes(1200, 900, "JPEG"))

    response = client.get(resource_path(tenant_a.device, "photo.jpg"), headers=phone(tenant_a))

    assert response["Content-Type"] == "image/jpeg"
    assert pixels(response).format == "JPEG"


def test_a_model_with_an_unknown_screen_gets_the_original(client, tenant_a):
    original = image_bytes(1200, 900)
    make_wallpaper(tenant_a.organisation, "logo.png", original)
    device = make_device(tenant_a.organisation, "805ec0aaaa02", model="T42G")

    response = client.get(
        resource_path(device, "logo.png"), headers={"User-Agent": user_agent(device, model="T42G")}
    )

    assert body(response) == original
    assert not WallpaperRendition.objects.exists()


def test_an_image_already_the_screens_size_is_served_as_it_is(client, tenant_a):
    original = image_bytes(480, 272)
    make_wallpaper(tenant_a.organisation, "logo.png", original)

    assert (
        body(client.get(resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a)))
        == original
    )
    assert not WallpaperRendition.objects.exists()


def test_a_rendition_is_made_once_and_shared_by_models_of_the_same_screen(
    client, tenant_a, monkeypatch
):
    make_wallpaper(tenant_a.organisation, "logo.png", image_bytes(1200, 900))
    calls = []

    def counted_fit(data, width, height):
        calls.append((width, height))
        return fit_to_screen(data, width, height)

    monkeypatch.setattr(views, "fit_to_screen", counted_fit)

    first = body(
        client.get(resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a, "T54W"))
    )
    again = body(
        client.get(resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a, "T54W"))
    )
    t46u = body(
        client.get(resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a, "T46U"))
    )
    client.get(resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a, "T57W"))

    assert first == again == t46u
    assert calls == [(480, 272), (800, 480)]
    assert WallpaperRendition.objects.count() == 2


def test_a_new_upload_replaces_the_fitted_copies(client, tenant_a):
    wallpaper = make_wallpaper(tenant_a.organisation, "logo.png", image_bytes(1200, 900))
    before = body(client.get(resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a)))

    replacement = image_bytes(1200, 900, color=(0, 200, 0))
    wallpaper.set_content(replacement, "image/png")
    wallpaper.save()

    assert not WallpaperRendition.objects.exists()
    after = body(client.get(resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a)))
    assert after != before
    assert Image.open(io.BytesIO(after)).convert("RGB").getpixel((470, 136)) == (0, 200, 0)


def test_a_stale_rendition_left_by_a_race_is_not_served(client, tenant_a):
    wallpaper = make_wallpaper(tenant_a.organisation, "logo.png", image_bytes(1200, 900))
    client.get(resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a))
    # As if a request had fitted the old bytes after the new upload was saved (and the
    # save had set a new config version, as saving a wallpaper does).
    WallpaperRendition.objects.update(source_sha256="0" * 64)
    cache.bump()

    response = client.get(resource_path(tenant_a.device, "logo.png"), headers=phone(tenant_a))

    rendition = WallpaperRendition.objects.get()
    assert rendition.source_sha256 == wallpaper.sha256
    assert response["ETag"] == f'"{rendition.sha256}"'


# --- public files ---------------------------------------------------------------------------


def test_anyone_gets_a_softkey_file_as_xml(client, db):
    from media_assets.models import SoftkeyFile

    xml = '<?xml version="1.0" encoding="UTF-8"?>\n<CallIn><Enable/></CallIn>\n'
    SoftkeyFile.objects.create(name="CallIn", call_state="CallIn", content=xml)

    response = client.get("/xml/_global/CallIn.xml")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml; charset=utf-8"
    assert body(response) == xml.encode()
    assert response["Content-Length"] == str(len(xml.encode()))
    assert response["ETag"] == f'"{hashlib.sha256(xml.encode()).hexdigest()}"'
    assert AccessLog.objects.get().outcome == AccessLog.Outcome.SUCCESS


def test_an_unknown_softkey_file_is_a_logged_404(client, db):
    response = client.get("/xml/_global/Talking.xml")

    assert response.status_code == 404
    assert AccessLog.objects.get().outcome == AccessLog.Outcome.NOT_FOUND


def test_anyone_gets_the_current_ca_certificate_as_pem(client, db):
    make_ca_certificate("Old CA")
    current = make_ca_certificate("Current CA")

    response = client.get("/ca.crt")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-x509-ca-cert"
    assert body(response) == current.pem.encode()
    assert response["ETag"] == f'"{current.sha256}"'
    assert AccessLog.objects.get().outcome == AccessLog.Outcome.SUCCESS


def test_the_ca_certificate_answers_head_and_304(client, db):
    certificate = make_ca_certificate()
    etag = f'"{certificate.sha256}"'

    head = client.head("/ca.crt")
    not_modified = client.get("/ca.crt", headers={"If-None-Match": etag})

    assert head["Content-Length"] == str(len(certificate.pem))
    assert not_modified.status_code == 304


def test_without_a_ca_certificate_the_url_is_a_404(client, db):
    assert client.get("/ca.crt").status_code == 404


# --- routing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/805ec0aaaa01.cfg", "/y000000000096.cfg", "/805ec0aaaa01.boot", "/y000000000000.boot"],
)
def test_config_files_are_not_taken_for_media(path):
    assert resolve(path).func.__module__ == "devices.views"


@pytest.mark.parametrize("path", ["/logo.gif", "/notes.txt", "/pb-1.xml", "/a/logo.png", "/x.png/"])
def test_names_that_are_not_media_are_not_matched_by_the_media_pattern(path):
    try:
        match = resolve(path)
    except Resolver404:
        return
    assert match.func.__module__ != "media_assets.views"


def test_admin_urls_are_not_taken_for_media():
    assert resolve("/admin/").func.__module__ != "media_assets.views"
