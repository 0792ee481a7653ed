"""A phone downloads its firmware image as its MAC file names it: whole, in ranges, or
handed to nginx; nobody else's, and nothing but its target."""

from __future__ import annotations

import hashlib
import os

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from django.http import StreamingHttpResponse

from devices.models import AccessLog
from firmware.models import FirmwareTarget
from tests.conftest import basic
from tests.factories import make_device, user_agent
from tests.firmware.test_targets import NEW, OLD, make_image

DATA = os.urandom(700 * 1024)


@pytest.fixture
def target(tenant_a):
    image = make_image(NEW, data=DATA)
    return FirmwareTarget.objects.create(model="T54W", image=image)


def url(device, image) -> str:
    return "/" + device.resource_url(f"firmware/{image.pk}/{image.file_name}").split("/", 3)[3]


def phone(device, **headers) -> dict:
    return {"User-Agent": user_agent(device, fw=OLD), **headers}


def drop(response) -> None:
    """Close a response as the server does when it is sent or the phone went away, with the
    test's database connection left open (the test client's own wrapper does the same)."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_url_the_mac_file_names_downloads_the_image_whole(client, tenant_a, target):
    mac_file = client.get("/805ec0aaaa01.cfg", headers=phone(tenant_a.device, **{
        "Authorization": basic(tenant_a.device.mac, tenant_a.device.provisioning_password)
    })).content.decode()  # fmt: skip
    named = next(line for line in mac_file.splitlines() if "firmware.url" in line)
    path = "/" + named.split(" = ", 1)[1].split("/", 3)[3]

    response = client.get(path, headers=phone(tenant_a.device))

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)  # never the whole image in memory
    assert hashlib.sha256(body(response)).hexdigest() == target.image.sha256
    assert response["Content-Length"] == str(len(DATA))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{target.image.sha256}"'


def test_each_download_is_in_the_access_log(client, tenant_a, target):
    client.get(url(tenant_a.device, target.image), headers=phone(tenant_a.device))

    row = AccessLog.objects.get(path__contains="/firmware/")
    assert (row.outcome, row.status_code, row.device) == ("success", 200, tenant_a.device)
    assert "/p/805ec0aaaa01/…/" in row.path  # the token is not logged


@pytest.mark.parametrize(
    "header, first, last",
    [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-", 1000, len(DATA) - 1),
        ("bytes=-500", len(DATA) - 500, len(DATA) - 1),
        ("bytes=100-99999999", 100, len(DATA) - 1),
    ],
)
def test_a_range_is_answered_206_with_those_bytes(client, tenant_a, target, header, first, last):
    response = client.get(
        url(tenant_a.device, target.image), headers=phone(tenant_a.device, Range=header)
    )

    assert response.status_code == 206
    assert body(response) == DATA[first : last + 1]
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(DATA)}"
    assert response["Content-Length"] == str(last - first + 1)


def test_a_range_past_the_end_is_416(client, tenant_a, target):
    response = client.get(
        url(tenant_a.device, target.image),
        headers=phone(tenant_a.device, Range=f"bytes={len(DATA)}-"),
    )

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-9", "lines=0-5", "bytes=9-3", "bytes=-"])
def test_a_range_we_do_not_take_gets_the_whole_file(client, tenant_a, target, header):
    response = client.get(
        url(tenant_a.device, target.image), headers=phone(tenant_a.device, Range=header)
    )

    assert response.status_code == 200 and body(response) == DATA


def test_a_range_for_another_version_gets_the_whole_file(client, tenant_a, target):
    headers = phone(tenant_a.device, Range="bytes=0-9", **{"If-Range": '"another"'})

    response = client.get(url(tenant_a.device, target.image), headers=headers)

    assert response.status_code == 200 and body(response) == DATA


def test_head_has_the_headers_and_no_body(client, tenant_a, target):
    response = client.head(url(tenant_a.device, target.image), headers=phone(tenant_a.device))

    assert response.status_code == 200
    assert response["Content-Length"] == str(len(DATA))
    assert body(response) == b""


def test_with_nginx_the_worker_sends_no_byte(client, tenant_a, target, settings):
    settings.FIRMWARE_DELIVERY = "nginx"

    response = client.get(url(tenant_a.device, target.image), headers=phone(tenant_a.device))

    assert response.status_code == 200
    drop(response)
    assert response["X-Accel-Redirect"] == "/_firmware/" + target.image.file.name
    assert response.content == b""
    assert response["ETag"] == f'"{target.image.sha256}"'


def test_a_wrong_token_is_refused(client, tenant_a, target):
    path = url(tenant_a.device, target.image)
    token = path.split("/")[3]

    response = client.get(path.replace(token, "A" * len(token)), headers=phone(tenant_a.device))

    assert response.status_code in (401, 404)
    assert response.status_code != 200


def test_another_phones_token_opens_nothing(client, tenant_a, target):
    other = make_device(tenant_a.organisation, "805ec0aaaa02", model="T54W")
    theirs = url(other, target.image).replace("805ec0aaaa02", "805ec0aaaa01")

    response = client.get(theirs, headers=phone(tenant_a.device))

    assert response.status_code != 200


def test_an_image_that_is_not_the_phones_target_is_404(client, tenant_a, target):
    other = make_image("96.86.0.90", data=b"other" * 100)

    response = client.get(url(tenant_a.device, other), headers=phone(tenant_a.device))

    assert response.status_code == 404


def test_another_organisations_phone_of_the_model_has_its_own_url(
    client, tenant_a, tenant_b, target
):
    theirs = make_device(tenant_b.organisation, "805ec0bbbb09", model="T54W")

    response = client.get(url(theirs, target.image), headers=phone(theirs))

    assert response.status_code == 200  # the target is for every T54W
    assert (
        url(theirs, target.image).split("/")[3] != url(tenant_a.device, target.image).split("/")[3]
    )


def test_a_file_missing_from_storage_is_404_not_500(client, tenant_a, target):
    target.image.file.storage.delete(target.image.file.name)

    response = client.get(url(tenant_a.device, target.image), headers=phone(tenant_a.device))

    assert response.status_code == 404


def test_an_unknown_delivery_is_refused_when_the_project_starts(settings):
    from django.core.checks import run_checks

    settings.FIRMWARE_DELIVERY = "ngnix"

    errors = [message for message in run_checks() if message.id == "voipconfig.E001"]

    assert len(errors) == 1 and "'ngnix'" in errors[0].msg


def test_downloads_beyond_the_limit_are_told_to_come_back_later(client, tenant_a, target, settings):
    settings.FIRMWARE_MAX_DOWNLOADS = 2
    other = make_device(tenant_a.organisation, "805ec0aaaa02")
    third = make_device(tenant_a.organisation, "805ec0aaaa03")
    first = client.get(url(tenant_a.device, target.image), headers=phone(tenant_a.device))
    second = client.get(url(other, target.image), headers=phone(other))  # both still sending

    refused = client.get(url(third, target.image), headers=phone(third))

    assert (first.status_code, second.status_code, refused.status_code) == (200, 200, 503)
    assert refused["Retry-After"] == str(settings.FIRMWARE_RETRY_AFTER_SECONDS)
    assert AccessLog.objects.filter(mac=third.mac).get().outcome == AccessLog.Outcome.BUSY
    assert hashlib.sha256(body(first)).hexdigest() == target.image.sha256
    drop(first)  # sent: its slot is free again
    again = client.get(url(third, target.image), headers=phone(third))
    assert again.status_code == 200
    assert hashlib.sha256(body(again)).hexdigest() == target.image.sha256
    drop(second)


def test_a_download_dropped_before_its_first_byte_frees_its_slot(
    client, tenant_a, target, settings
):
    settings.FIRMWARE_MAX_DOWNLOADS = 1
    dropped = client.get(url(tenant_a.device, target.image), headers=phone(tenant_a.device))
    drop(dropped)  # the phone went away before anything was sent

    response = client.get(url(tenant_a.device, target.image), headers=phone(tenant_a.device))

    assert response.status_code == 200
    drop(response)


def test_head_and_not_modified_take_no_slot(client, tenant_a, target, settings):
    settings.FIRMWARE_MAX_DOWNLOADS = 1
    held = client.get(url(tenant_a.device, target.image), headers=phone(tenant_a.device))
    etag = held["ETag"]

    head = client.head(url(tenant_a.device, target.image), headers=phone(tenant_a.device))
    cached = client.get(
        url(tenant_a.device, target.image),
        headers=phone(tenant_a.device, **{"If-None-Match": etag}),
    )

    assert (held.status_code, head.status_code, cached.status_code) == (200, 200, 304)
    drop(held)


def test_the_limit_holds_across_worker_processes(settings):
    """Each slot is a lock another process of the server sees: a worker holding the only slot
    leaves none to this one, and its end frees it."""
    import multiprocessing

    from firmware import slots

    settings.FIRMWARE_MAX_DOWNLOADS = 1
    context = multiprocessing.get_context("fork")
    ready, release = context.Event(), context.Event()

    def worker() -> None:
        slot = slots.acquire()
        assert slot is not None
        ready.set()
        release.wait(30)

    process = context.Process(target=worker)
    process.start()
    try:
        assert ready.wait(30)
        assert slots.acquire() is None
    finally:
        release.set()
        process.join(30)
    assert process.exitcode == 0
    freed = slots.acquire()
    assert freed is not None
    freed.release()
