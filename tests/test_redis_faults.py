"""Redis away or hung (issue 15, part 2): admin changes commit and the admin says when phones
get them; a hung Redis costs a phone request at most one timeout, and a process then stops
calling it for a while (the breaker); throttling and Digest replay checks go on per process;
/healthz tells a degraded server from a down one.

"Stopped" is a port nothing listens on; "hung" is a server that takes connections and bytes
and never answers, as Redis does under SIGSTOP."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest
from django.core.cache import caches

from devices import serving
from devices.models import AccessLog, Device, SipAccount
from devices.serving import access_log
from phonebooks.models import Phonebook
from tests.admin_forms import browser_form
from tests.conftest import basic
from tests.factories import user_agent
from tests.phone_client import digest_authorization, www_authenticate
from tests.phonebooks.factories import make_phonebook, make_staff
from voipconfig import cache as redis_cache

MAC_FILE = "/805ec0aaaa01.cfg"
TIMEOUT = 0.2  # REDIS_TIMEOUT_SECONDS in these tests
# What a request may take beyond one Redis timeout on a loaded test machine; far below what
# waiting for Redis without a timeout takes (redis-py's default is 5 s per call).
SLACK = 0.8


class HungRedis:
    """Takes connections and reads what clients send, and never answers."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received = 0  # bytes, over all connections
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:  # closed
                return
            self._open.append(connection)
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        try:
            while data := connection.recv(65536):
                self.received += len(data)
        except OSError:
            pass

    def close(self) -> None:
        self.server.close()
        for connection in self._open:
            connection.close()


def closed_port() -> int:
    """A port on which nothing listens (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def use_redis(settings, location: str) -> None:
    """CACHE_URL=redis://…, as voipconfig/settings.py turns it into our backend."""
    settings.REDIS_TIMEOUT_SECONDS = TIMEOUT
    settings.REDIS_CONNECT_TIMEOUT_SECONDS = TIMEOUT
    settings.CACHES = {
        "default": {
            "BACKEND": "voipconfig.cache.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": f"redis-faults-{uuid.uuid4().hex}",
        }
    }
    settings.CONFIG_CACHE = True
    redis_cache.reset_breakers()
    serving.reset()


@pytest.fixture
def redis_stopped(settings):
    use_redis(settings, f"redis://127.0.0.1:{closed_port()}/0")
    yield
    serving.reset()
    redis_cache.reset_breakers()


@pytest.fixture
def redis_hung(settings):
    hung = HungRedis()
    use_redis(settings, f"redis://127.0.0.1:{hung.port}/0")
    yield hung
    serving.reset()
    redis_cache.reset_breakers()
    hung.close()


def fetch(client, tenant, **extra):
    return client.get(MAC_FILE, headers=tenant.own_headers(), **extra)


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def rename_book(client, book: Phonebook, name: str):
    url = f"/admin/phonebooks/phonebook/{book.pk}/change/"
    data = browser_form(client, url) | {"name": name}
    data.pop("devices")  # no chosen phones (the form shows the list as text)
    return client.post(url, data, follow=True)


def warnings_of(response) -> list[str]:
    return [
        str(message) for message in response.context["messages"] if message.level_tag == "warning"
    ]


# --- admin changes --------------------------------------------------------------------------


@pytest.fixture
def book(tenant_a):
    return make_phonebook(tenant_a.organisation, name="Colleagues")


def test_an_admin_change_commits_while_redis_is_stopped(admin_client, book, redis_stopped):
    response = rename_book(admin_client, book, "Everyone")

    assert response.status_code == 200
    assert Phonebook.objects.get(pk=book.pk).name == "Everyone"


def test_the_admin_says_when_phones_get_a_change_redis_could_not_announce(
    client, tenant_a, book, redis_stopped, settings
):
    client.force_login(make_staff(tenant_a.organisation))

    response = rename_book(client, book, "Everyone")

    [warning] = warnings_of(response)
    assert "saved" in warning
    assert f"within {settings.CONFIG_CACHE_MAX_AGE_SECONDS} seconds" in warning
    for word in ("Redis", "CACHE", "redis", "Error"):  # no library, setting or exception
        assert word not in warning


def test_the_admin_says_nothing_more_while_redis_is_up(admin_client, book):
    response = rename_book(admin_client, book, "Everyone")

    assert Phonebook.objects.get(pk=book.pk).name == "Everyone"
    assert warnings_of(response) == []


def test_an_admin_change_while_redis_is_hung_commits_within_a_timeout(
    admin_client, book, redis_hung
):
    response, took = timed(lambda: rename_book(admin_client, book, "Everyone"))

    assert response.status_code == 200
    assert Phonebook.objects.get(pk=book.pk).name == "Everyone"
    assert warnings_of(response)
    # The page, the post and the page it leads to: one timeout each at most.
    assert took < 3 * (TIMEOUT + SLACK)


def test_a_change_reaches_the_phone_at_once_in_the_process_that_made_it(
    client, tenant_a, redis_stopped
):
    assert fetch(client, tenant_a).status_code == 200
    account = SipAccount.objects.get(device=tenant_a.device, index=1)
    account.password = "changed-while-redis-is-away"
    account.save()

    assert b"account.1.password = changed-while-redis-is-away" in fetch(client, tenant_a).content


def test_while_redis_is_away_what_a_process_keeps_lasts_the_maximum_age(
    client, tenant_a, redis_stopped, settings, monkeypatch
):
    assert fetch(client, tenant_a).status_code == 200
    # Another process saved it: this one hears nothing while Redis is away.
    SipAccount.objects.filter(device=tenant_a.device, index=1).update(password="from-elsewhere")

    soon = fetch(client, tenant_a)
    later = time.monotonic() + settings.CONFIG_CACHE_MAX_AGE_SECONDS + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    after_the_maximum_age = fetch(client, tenant_a)

    assert soon.status_code == 200  # served from what the process keeps: no read per request
    assert b"from-elsewhere" not in soon.content
    assert b"account.1.password = from-elsewhere" in after_the_maximum_age.content


def test_a_change_redis_missed_is_announced_once_it_is_back(client, tenant_a, settings):
    from tests.devices.test_throttling import _redis_or_skip

    location = _redis_or_skip()
    use_redis(settings, location)
    assert fetch(client, tenant_a).status_code == 200
    before = caches["default"].get(serving.keys.VERSION)

    use_redis(settings, f"redis://127.0.0.1:{closed_port()}/0")  # away
    Device.objects.filter(pk=tenant_a.device.pk).get().save()  # a change it cannot announce
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": location}}  # back
    fetch(client, tenant_a)

    try:
        assert caches["default"].get(serving.keys.VERSION) not in (None, before)
    finally:
        caches["default"].delete(serving.keys.VERSION)


# --- phones: a hung Redis and the breaker ------------------------------------------------------


def test_a_hung_redis_costs_a_phone_request_at_most_one_timeout(client, tenant_a, redis_hung):
    response, took = timed(lambda: fetch(client, tenant_a))

    assert response.status_code == 200
    assert b"account.1.password = alpha-sip-101" in response.content
    assert took < TIMEOUT + SLACK


def test_after_failures_a_process_stops_calling_a_hung_redis(
    client, tenant_a, redis_hung, settings
):
    settings.REDIS_BREAKER_SECONDS = 60
    for _ in range(settings.REDIS_BREAKER_FAILURES):
        assert fetch(client, tenant_a).status_code == 200
    sent = redis_hung.received
    assert sent > 0  # it was tried

    responses, took = timed(lambda: [fetch(client, tenant_a) for _ in range(20)])

    assert [response.status_code for response in responses] == [200] * 20
    assert redis_hung.received == sent  # not one byte more
    assert took < 10 * TIMEOUT  # twenty requests together: far below one timeout each


def test_the_breaker_tries_redis_again_after_a_while(client, tenant_a, redis_hung, settings):
    settings.REDIS_BREAKER_SECONDS = 0.5
    for _ in range(settings.REDIS_BREAKER_FAILURES):
        fetch(client, tenant_a)
    sent = redis_hung.received
    time.sleep(0.6)

    fetch(client, tenant_a)
    tried_again = redis_hung.received > sent
    sent = redis_hung.received
    fetch(client, tenant_a)

    assert tried_again
    assert redis_hung.received == sent  # one failed try: open again at once


def test_the_breaker_closes_when_redis_answers_again(client, tenant_a, settings):
    from tests.devices.test_throttling import _redis_or_skip

    location = _redis_or_skip()
    use_redis(settings, location)
    settings.REDIS_BREAKER_SECONDS = 0.3
    breaker = redis_cache.breaker_of(location)
    for _ in range(settings.REDIS_BREAKER_FAILURES):
        breaker.failed()
    assert not breaker.closed()
    time.sleep(0.4)

    assert fetch(client, tenant_a).status_code == 200

    assert breaker.closed()
    caches["default"].delete(serving.keys.VERSION)


def test_every_redis_call_has_the_timeouts_of_the_settings(redis_hung, settings):
    settings.REDIS_BREAKER_FAILURES = 1000  # every call goes out
    shared = caches["default"]
    assert isinstance(shared, redis_cache.RedisCache)

    for call in (
        lambda: shared.get("a"),
        lambda: shared.set("a", 1),
        lambda: shared.rise("b", 1, 60),
        lambda: shared.client(write=True).publish("channel", b"bump"),
    ):
        started = time.monotonic()
        with pytest.raises(Exception, match=r"(?i)timeout"):
            call()
        assert time.monotonic() - started < TIMEOUT + SLACK
    assert redis_hung.received > 0  # each went out, and waited for its answer


# --- throttling and Digest while Redis is away --------------------------------------------------


def wrong_password(client, ip: str):
    return client.get(
        MAC_FILE,
        headers={
            "User-Agent": user_agent("805ec0aaaa01"),
            "Authorization": basic("alpha", "wrong"),
        },
        REMOTE_ADDR=ip,
    )


def test_throttling_goes_on_in_each_process_while_redis_is_away(
    client, tenant_a, redis_stopped, settings
):
    settings.THROTTLE_MAX_FAILURES_PER_MAC = 3

    statuses = [wrong_password(client, f"198.51.100.{n}").status_code for n in range(1, 6)]

    assert statuses == [401, 401, 401, 429, 429]


def test_a_digest_answer_is_taken_once_per_process_while_redis_is_away(
    client, tenant_a, redis_stopped
):
    challenge_response = client.get(MAC_FILE, headers={"User-Agent": user_agent(tenant_a.device)})
    challenge = next(v for v in www_authenticate(challenge_response) if v.startswith("Digest"))
    header = digest_authorization(challenge, tenant_a.username, tenant_a.password, MAC_FILE)
    headers = {"User-Agent": user_agent(tenant_a.device), "Authorization": header}

    first = client.get(MAC_FILE, headers=headers)
    replay = client.get(MAC_FILE, headers=headers)

    assert first.status_code == 200
    assert replay.status_code == 401
    last = AccessLog.objects.order_by("pk").last()
    assert last is not None and last.outcome == AccessLog.Outcome.REPLAYED


# --- /healthz ------------------------------------------------------------------------------------


def test_healthz_says_ok_with_everything_up(client, db, settings):
    from tests.devices.test_throttling import _redis_or_skip

    use_redis(settings, _redis_or_skip())

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert (body["database"], body["redis"], body["access_log"]["status"]) == ("ok", "ok", "ok")
    assert body["degraded"] == [] and body["failing"] == []


def test_healthz_says_degraded_with_redis_stopped(client, db, redis_stopped):
    response = client.get("/healthz")

    assert response.status_code == 200  # a load balancer that reads the status keeps it
    body = response.json()
    assert body["status"] == "degraded"
    assert body["redis"] == "unreachable"
    assert body["degraded"] == ["redis"]
    assert body["database"] == "ok"


def test_healthz_says_degraded_within_a_timeout_with_redis_hung(client, db, redis_hung):
    response, took = timed(lambda: client.get("/healthz"))

    assert response.json()["status"] == "degraded"
    assert response.json()["redis"] == "unreachable"
    assert took < TIMEOUT + SLACK


def test_healthz_names_no_redis_where_none_is_configured(client, db):
    body = client.get("/healthz").json()

    assert body["redis"] == "not configured"
    assert body["status"] == "ok"


def test_healthz_says_503_while_the_access_log_cannot_be_written(client, tenant_a, settings):
    from tests.devices.test_access_log_writer import row

    settings.ACCESS_LOG_FLUSH_SECONDS = 0.05  # batched, as on PostgreSQL
    settings.ACCESS_LOG_MAX_PENDING = 1
    writer = access_log.writer
    writer.background = False  # no thread: the row only waits
    writer.add(row(tenant_a.device))
    try:
        response = client.get("/healthz")
    finally:
        writer.flush()
        writer.background = True

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["access_log"]
    assert body["access_log"]["status"] == "failing"
    assert body["access_log"]["pending"] == 1
