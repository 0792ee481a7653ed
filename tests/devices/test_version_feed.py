"""With Redis, a process learns of a new config version from a subscription, and reads the
version from Redis only when something was announced, after losing the subscription, or at
least every CONFIG_CACHE_VERSION_CHECK_SECONDS."""

from __future__ import annotations

import time
import uuid

import pytest
from django.core.cache import caches

from devices import serving
from devices.models import SipAccount
from devices.serving import cache, keys, version_feed
from tests.devices.test_throttling import _redis_or_skip

MAC_FILE = "/805ec0aaaa01.cfg"


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "voipconfig.cache.RedisCache",
            "LOCATION": _redis_or_skip(),
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
    settings.CONFIG_CACHE = True
    settings.CONFIG_CACHE_VERSION_CHECK_SECONDS = 3600  # only what is announced counts
    serving.reset()
    yield caches["default"]
    serving.reset()


@pytest.fixture
def version_reads(redis_cache, monkeypatch):
    reads = []
    real = redis_cache.get

    def get(key, *args, **kwargs):
        if key == keys.VERSION:
            reads.append(key)
        return real(key, *args, **kwargs)

    monkeypatch.setattr(redis_cache, "get", get)
    return reads


def subscription():
    """The connection of this process's subscription to the version feed."""
    connection = version_feed.feed.connection()
    assert connection is not None, "not subscribed"
    return connection


def fetch(client, tenant):
    return client.get(MAC_FILE, headers=tenant.phone_headers())


def another_process_bumps(shared) -> None:
    """What `cache.bump` does in another process: this one's kept phones stay."""
    shared.set(keys.VERSION, uuid.uuid4().hex, timeout=None)
    version_feed.announce()
    time.sleep(0.05)  # the next phone request comes later than Redis takes to deliver it


def test_while_nothing_changes_requests_do_not_read_the_version(client, tenant_a, version_reads):
    assert fetch(client, tenant_a).status_code == 200
    assert version_reads  # the first request reads it (and starts it: the cache was empty)
    version_reads.clear()

    for _ in range(3):
        assert fetch(client, tenant_a).status_code == 200

    assert version_reads == []


def test_a_change_announced_by_another_process_reaches_this_one(
    client, tenant_a, redis_cache, version_reads
):
    fetch(client, tenant_a)
    SipAccount.objects.filter(device=tenant_a.device, index=1).update(password="from-elsewhere")
    version_reads.clear()

    another_process_bumps(redis_cache)

    assert b"account.1.password = from-elsewhere" in fetch(client, tenant_a).content
    assert len(version_reads) == 1


def test_a_lost_subscription_falls_back_to_reading_the_version(
    client, tenant_a, redis_cache, version_reads
):
    fetch(client, tenant_a)
    subscription().disconnect()  # redis-py will re-make it by itself
    SipAccount.objects.filter(device=tenant_a.device, index=1).update(password="meanwhile")
    another_process_bumps(redis_cache)  # published while nobody here listened
    version_reads.clear()

    response = fetch(client, tenant_a)

    assert b"account.1.password = meanwhile" in response.content
    assert len(version_reads) == 1


def test_the_version_is_read_again_after_the_check_interval(
    client, tenant_a, redis_cache, version_reads, settings
):
    settings.CONFIG_CACHE_VERSION_CHECK_SECONDS = 0  # a connection that died silently
    fetch(client, tenant_a)
    SipAccount.objects.filter(device=tenant_a.device, index=1).update(password="unannounced")
    redis_cache.set(keys.VERSION, uuid.uuid4().hex, timeout=None)

    assert b"account.1.password = unannounced" in fetch(client, tenant_a).content


def test_a_version_read_before_an_announcement_is_not_kept(redis_cache):
    feed = version_feed.feed
    assert cache.current_version()  # subscribed, version read
    version, ticket = feed.known()
    assert version is not None

    another_process_bumps(redis_cache)
    missed, _ = feed.known()  # takes the announcement
    feed.read("an-older-version", ticket)  # a read that started before it

    assert missed is None
    assert feed.known()[0] is None  # still to be read


def test_without_redis_requests_go_to_the_database(client, tenant_a, redis_cache, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "voipconfig.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }

    for _ in range(2):
        response = fetch(client, tenant_a)
        assert response.status_code == 200
        assert b"account.1.password = alpha-sip-101" in response.content


def test_a_subscription_re_made_by_redis_py_itself_means_reading_again(redis_cache):
    feed = version_feed.feed
    assert cache.current_version()
    assert feed.known()[0] is not None
    connection = subscription()

    connection.disconnect()
    connection.connect()  # as redis-py does on its next read: what was published is lost

    assert feed.version is None  # before any confirmation could be read
