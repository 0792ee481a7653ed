"""Firmware images in an S3 bucket, against a real S3 server on 127.0.0.1: uploaded through the
admin, sent to phones as a redirect to a signed URL, and removed with their image.

The server is moto's (moto.server), with its IAM checks on: a request signed in its
Authorization header with a wrong key or secret is refused, as S3 refuses it. moto does not
check a presigned URL's signature or expiry (moto 5.2: nothing in it reads X-Amz-Signature or
X-Amz-Expires, and with its IAM checks on it fails on a request without an Authorization
header), so the storage talks to moto through `Gateway`, a small server of this module that
checks those as S3 does, with botocore's own SigV4 code, before passing the request on.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import boto3
import environ
import pytest
import requests
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from django.core.checks import run_checks
from django.core.files.storage import storages
from django.test import TestCase
from django.urls import reverse
from moto.server import ThreadedMotoServer

from devices.models import AccessLog
from firmware.models import FirmwareImage, FirmwareTarget
from tests.firmware.test_images import upload
from tests.firmware.test_serving import phone, url
from tests.firmware.test_targets import NEW, make_image
from voipconfig.firmware_store import s3_firmware_storage

REGION = "eu-west-1"
BUCKET = "voipconfig-firmware-tests"
DATA = os.urandom(300 * 1024)
# What .env.example says the key needs, and nothing more.
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        },
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
    ],
}
SIGV4_DATE = "%Y%m%dT%H%M%SZ"


class Gateway(ThreadingHTTPServer):
    """S3's front door for presigned URLs, in front of moto: the query's signature must be
    the one botocore computes with the key's secret for this method, host, path and query,
    and X-Amz-Date plus X-Amz-Expires must not have passed. Then it asks moto, with the
    request signed in its header (which moto checks); any other request goes to moto as it
    came."""

    daemon_threads = True

    def __init__(self, store: str, credentials: Credentials) -> None:
        super().__init__(("127.0.0.1", 0), GatewayHandler)
        self.store = urlsplit(store)
        self.credentials = credentials
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def refusal(self, method: str, target: str, headers: Message) -> str | None:
        """Why S3 would refuse this presigned request (its error code), or None."""
        query = dict(parse_qsl(urlsplit(target).query, keep_blank_values=True))
        if query.get("X-Amz-Credential", "").split("/")[0] != self.credentials.access_key:
            return "InvalidAccessKeyId"
        expected = self._signature(method, target, headers, query)
        if not hmac.compare_digest(query.get("X-Amz-Signature", ""), expected):
            return "SignatureDoesNotMatch"
        signed_at = datetime.strptime(query["X-Amz-Date"], SIGV4_DATE).replace(tzinfo=UTC)
        if self.clock() > signed_at + timedelta(seconds=int(query["X-Amz-Expires"])):
            return "AccessDenied"  # S3: "Request has expired"
        return None

    def _signature(self, method: str, target: str, headers: Message, query: dict[str, str]) -> str:
        parts = urlsplit(target)
        unsigned = "&".join(p for p in parts.query.split("&") if "X-Amz-Signature=" not in p)
        names = query["X-Amz-SignedHeaders"].split(";")
        request = AWSRequest(
            method=method,
            url=f"http://{headers['Host']}{parts.path}?{unsigned}",
            headers={name: headers.get(name, "") for name in names},
        )
        request.context["timestamp"] = query["X-Amz-Date"]
        _, _, region, service, _ = query["X-Amz-Credential"].split("/")
        signer = S3SigV4QueryAuth(self.credentials, service, region)
        canonical = signer.canonical_request(request)
        return signer.signature(signer.string_to_sign(request, canonical), request)


class GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # botocore's uploads send Expect: 100-continue
    server: Gateway

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        target = self.path
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if "X-Amz-Signature=" in urlsplit(target).query:
            error = self.server.refusal(self.command, target, self.headers)
            if error is not None:
                self._answer(403, [("Content-Type", "application/xml")], _error(error))
                return
            target, headers = self._signed_for_store(target, headers)
        self._answer(*self._from_store(target, headers, body))

    do_HEAD = do_PUT = do_POST = do_DELETE = do_GET

    def _signed_for_store(self, target: str, headers: dict[str, str]) -> tuple[str, dict[str, str]]:
        parts = urlsplit(target)
        query = "&".join(p for p in parts.query.split("&") if not p.startswith("X-Amz-"))
        target = parts.path + (f"?{query}" if query else "")
        request = AWSRequest(method=self.command, url=f"http://{self.server.store.netloc}{target}")
        S3SigV4Auth(self.server.credentials, "s3", REGION).add_auth(request)
        kept = {k: v for k, v in headers.items() if k.lower() in ("range", "if-none-match")}
        return target, {**kept, **dict(request.headers.items())}

    def _from_store(
        self, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        store = self.server.store
        assert store.hostname is not None
        connection = http.client.HTTPConnection(store.hostname, store.port, timeout=30)
        try:
            connection.request(self.command, target, body=body or None, headers=headers)
            response = connection.getresponse()
            content = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            return response.status, kept, content
        finally:
            connection.close()

    def _answer(self, status: int, headers: list[tuple[str, str]], content: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name, _ in headers):
            self.send_header("Content-Length", str(len(content)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the tests' output stays readable


# Not passed on (the gateway answers with its own), nor signed.
HOP_BY_HOP = ("connection", "keep-alive", "transfer-encoding", "expect", "server", "date")


def _error(code: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code></Error>'.encode()


@dataclass
class Store:
    moto: str
    gateway: Gateway
    credentials: Credentials

    def client(self, secret: str | None = None):
        """A client of moto itself, with the key's secret (or another)."""
        return boto3.client(
            "s3",
            endpoint_url=self.moto,
            region_name=REGION,
            aws_access_key_id=self.credentials.access_key,
            aws_secret_access_key=secret or self.credentials.secret_key,
            config=Config(signature_version="s3v4"),
        )

    def objects(self) -> dict[str, bytes]:
        client = self.client()
        listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return {
            o["Key"]: client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed
        }


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    """moto on a free port, with a bucket and an IAM user of POLICY; then moto's IAM checks
    on (as moto's own set_initial_no_auth_action_count does in server mode)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    moto = f"http://{host}:{port}"
    # moto's state is the process's, not the server's: pytest-django runs this module's tests
    # without a database after all others, and so sets this fixture up a second time.
    requests.post(f"{moto}/moto-api/reset", timeout=10).raise_for_status()
    setup = {"endpoint_url": moto, "region_name": REGION}
    setup |= {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
    iam = boto3.client("iam", **setup)
    iam.create_user(UserName="voipconfig")
    iam.put_user_policy(
        UserName="voipconfig", PolicyName="firmware", PolicyDocument=json.dumps(POLICY)
    )
    key = iam.create_access_key(UserName="voipconfig")["AccessKey"]
    boto3.client("s3", **setup).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    requests.post(f"{moto}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    gateway = Gateway(moto, Credentials(key["AccessKeyId"], key["SecretAccessKey"]))
    thread = threading.Thread(target=gateway.serve_forever, daemon=True)
    thread.start()
    yield Store(moto, gateway, gateway.credentials)
    gateway.shutdown()
    gateway.server_close()
    requests.post(f"{moto}/moto-api/reset-auth", data=b"inf", timeout=10)
    server.stop()


@pytest.fixture
def s3(store, settings, monkeypatch) -> Iterator[Store]:
    """The firmware storage as settings.py builds it for FIRMWARE_STORAGE=s3, at the gateway."""
    for name, value in {
        "FIRMWARE_S3_BUCKET": BUCKET,
        "FIRMWARE_S3_ENDPOINT_URL": store.gateway.url,
        "FIRMWARE_S3_REGION": REGION,
        "FIRMWARE_S3_ACCESS_KEY_ID": store.credentials.access_key,
        "FIRMWARE_S3_SECRET_ACCESS_KEY": store.credentials.secret_key,
    }.items():
        monkeypatch.setenv(name, value)
    backend = s3_firmware_storage(environ.Env(), settings.FIRMWARE_SIGNED_URL_SECONDS)
    # Django resets its storages when STORAGES changes; the model's field took its storage
    # once, when the model was defined (FileField calls a callable storage at once).
    settings.STORAGES = {**settings.STORAGES, "firmware": backend}
    settings.FIRMWARE_STORAGE, settings.FIRMWARE_DELIVERY = "s3", "signed-url"
    field = FirmwareImage._meta.get_field("file")
    monkeypatch.setattr(field, "storage", storages["firmware"])
    yield store
    store.gateway.clock = lambda: datetime.now(UTC)
    client = store.client()
    for key in store.objects():
        client.delete_object(Bucket=BUCKET, Key=key)


@pytest.fixture
def target(s3, tenant_a) -> FirmwareTarget:
    return FirmwareTarget.objects.create(model="T54W", image=make_image(NEW, data=DATA))


def location(client, device, image, method: str = "get") -> str:
    """Where the phone's request at its token URL sends it."""
    answer = getattr(client, method)(url(device, image), headers=phone(device))
    assert answer.status_code == 302, answer.status_code
    assert answer["Cache-Control"] == "private, no-store"
    return answer["Location"]


def changed(signed: str, name: str, value: str) -> str:
    parts = urlsplit(signed)
    query = [(k, value if k == name else v) for k, v in parse_qsl(parts.query)]
    return parts._replace(query=urlencode(query)).geturl()


def code(response: requests.Response) -> str:
    return response.text.split("<Code>")[1].split("</Code>")[0]


def test_the_store_checks_the_signature_of_every_request(s3):
    with pytest.raises(ClientError) as refused:
        s3.client(secret="not-the-secret").list_objects_v2(Bucket=BUCKET)

    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_an_upload_in_the_admin_is_an_object_in_the_bucket_and_no_file(admin_client, s3, settings):
    data = os.urandom(1024 * 1024)

    response = upload(admin_client, "T53(T53W,T53C)-95.86.0.120.rom", data, ["T53", "T53W"])

    assert response.status_code == 302
    image = FirmwareImage.objects.get()
    assert s3.objects() == {image.file.name: data}
    assert image.sha256 == hashlib.sha256(data).hexdigest() and image.size == len(data)
    assert image.file.name.startswith(f"firmware/{image.sha256[:2]}/{image.sha256}/")
    assert not list(Path(settings.FIRMWARE_ROOT).rglob(f"*{image.sha256}*"))


def test_a_phone_is_sent_to_a_signed_url_that_gives_it_the_image(client, tenant_a, target):
    signed = location(client, tenant_a.device, target.image)

    fetched = requests.get(signed, timeout=30)

    assert signed.startswith(f"{target.image.file.storage.endpoint_url}/{BUCKET}/firmware/")
    assert dict(parse_qsl(urlsplit(signed).query))["X-Amz-Expires"] == "300"
    assert fetched.status_code == 200
    assert fetched.content == DATA
    assert hashlib.sha256(fetched.content).hexdigest() == target.image.sha256
    assert fetched.headers["Content-Type"] == "application/octet-stream"


def test_a_redirected_download_is_logged_as_served(client, tenant_a, target):
    location(client, tenant_a.device, target.image)

    row = AccessLog.objects.get(path__contains="/firmware/")
    assert (row.outcome, row.status_code, row.device) == ("success", 302, tenant_a.device)


def test_the_signed_url_takes_a_range(client, tenant_a, target):
    signed = location(client, tenant_a.device, target.image)

    part = requests.get(signed, headers={"Range": "bytes=100-199"}, timeout=30)

    assert part.status_code == 206 and part.content == DATA[100:200]


def test_head_is_sent_to_a_url_signed_for_head_only(client, tenant_a, target):
    signed = location(client, tenant_a.device, target.image, method="head")

    head = requests.head(signed, timeout=30)
    get = requests.get(signed, timeout=30)

    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(DATA))
    assert get.status_code == 403 and code(get) == "SignatureDoesNotMatch"


def test_a_signature_changed_in_one_character_is_refused(client, tenant_a, target):
    signed = location(client, tenant_a.device, target.image)
    signature = dict(parse_qsl(urlsplit(signed).query))["X-Amz-Signature"]
    other = ("1" if signature[0] != "1" else "2") + signature[1:]

    refused = requests.get(changed(signed, "X-Amz-Signature", other), timeout=30)

    assert refused.status_code == 403 and code(refused) == "SignatureDoesNotMatch"
    assert requests.get(signed, timeout=30).status_code == 200  # the URL as signed still works


def test_a_url_given_a_longer_life_is_refused(client, tenant_a, target):
    signed = location(client, tenant_a.device, target.image)

    refused = requests.get(changed(signed, "X-Amz-Expires", "604800"), timeout=30)

    assert refused.status_code == 403 and code(refused) == "SignatureDoesNotMatch"


def test_a_signed_url_is_refused_once_expired(client, tenant_a, target, s3):
    signed = location(client, tenant_a.device, target.image)
    date = dict(parse_qsl(urlsplit(signed).query))["X-Amz-Date"]
    signed_at = datetime.strptime(date, SIGV4_DATE).replace(tzinfo=UTC)

    s3.gateway.clock = lambda: signed_at + timedelta(seconds=299)
    before = requests.get(signed, timeout=30)
    s3.gateway.clock = lambda: signed_at + timedelta(seconds=301)
    after = requests.get(signed, timeout=30)

    assert before.status_code == 200 and before.content == DATA
    assert after.status_code == 403 and code(after) == "AccessDenied"


def test_deleting_an_image_in_the_admin_removes_its_object(admin_client, s3):
    upload(admin_client, "96.86.0.120.rom", DATA)
    image = FirmwareImage.objects.get()
    assert list(s3.objects()) == [image.file.name]
    delete = reverse("admin:firmware_firmwareimage_delete", args=[image.pk])

    with TestCase.captureOnCommitCallbacks(execute=True):  # the object goes on commit
        response = admin_client.post(delete, {"post": "yes"})

    assert response.status_code == 302
    assert not FirmwareImage.objects.exists()
    assert s3.objects() == {}


def test_a_phone_the_image_is_not_for_gets_404_and_no_url(client, tenant_a, tenant_b, target):
    other = make_image("96.86.0.90", data=b"other" * 100)
    t46u = tenant_b.device

    not_its_model = client.get(url(t46u, target.image), headers=phone(t46u))
    not_its_target = client.get(url(tenant_a.device, other), headers=phone(tenant_a.device))

    for response in (not_its_model, not_its_target):
        assert response.status_code == 404 and "Location" not in response


def test_an_image_missing_from_the_bucket_is_404(client, tenant_a, target, s3):
    s3.client().delete_object(Bucket=BUCKET, Key=target.image.file.name)

    response = client.get(url(tenant_a.device, target.image), headers=phone(tenant_a.device))

    assert response.status_code == 404 and "Location" not in response


def test_the_s3_settings_pass_the_checks(s3):
    assert not [m for m in run_checks() if (m.id or "").startswith("voipconfig.E")]


def store_errors() -> list[str]:
    ids = ("voipconfig.E001", "voipconfig.E002", "voipconfig.E003")
    return [f"{m.id} {m.msg}" for m in run_checks() if m.id in ids]


def test_signed_urls_need_the_images_in_a_bucket(settings):
    settings.FIRMWARE_DELIVERY, settings.FIRMWARE_STORAGE = "signed-url", "filesystem"

    assert store_errors() == [
        "voipconfig.E002 FIRMWARE_DELIVERY is 'signed-url', which needs FIRMWARE_STORAGE=s3; "
        "it is 'filesystem'."
    ]


def test_nginx_cannot_serve_images_in_a_bucket(settings):
    settings.FIRMWARE_DELIVERY, settings.FIRMWARE_STORAGE = "nginx", "s3"
    settings.STORAGES = {**settings.STORAGES, "firmware": s3_firmware_storage(_env(BUCKET), 300)}

    assert [error.split(" ")[0] for error in store_errors()] == ["voipconfig.E002"]


def test_an_s3_store_needs_a_bucket(settings):
    settings.FIRMWARE_DELIVERY, settings.FIRMWARE_STORAGE = "signed-url", "s3"
    settings.STORAGES = {**settings.STORAGES, "firmware": s3_firmware_storage(_env(""), 300)}

    assert store_errors() == ["voipconfig.E003 FIRMWARE_STORAGE is 's3' but no bucket is set."]


def _env(bucket: str) -> environ.Env:
    env = environ.Env()
    env.ENVIRON = {"FIRMWARE_S3_BUCKET": bucket}
    return env
