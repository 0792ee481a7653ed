"""The per-process config cache: fewer queries, never a stale config after a change."""

import time

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices import serving
from devices.models import AccessLog, Device, SipAccount
from devices.serving import cache, keys
from organisations.models import Organisation
from phonebooks.models import Phonebook
from tests.factories import make_account, own_basic, resource_path, user_agent

MAC_FILE = "/805ec0aaaa01.cfg"


@pytest.fixture(autouse=True)
def cache_on(settings):
    # The tests' cache is per process, which is all one test process needs.
    settings.CONFIG_CACHE = True
    serving.reset()
    yield
    serving.reset()


def fetch(client, tenant, password=None):
    return client.get(MAC_FILE, headers=tenant.own_headers(password=password))


def test_a_repeated_request_reads_nothing_but_the_log_write(client, tenant_a):
    assert fetch(client, tenant_a).status_code == 200

    with CaptureQueriesContext(connection) as queries:
        again = fetch(client, tenant_a)

    assert again.status_code == 200
    # The access-log row and its hour's count (AccessLogHour).
    assert [q["sql"].split()[0] for q in queries] == ["INSERT", "INSERT"]
    assert AccessLog.objects.filter(outcome="success").count() == 2


def test_a_changed_account_reaches_the_phone_at_once(client, tenant_a):
    fetch(client, tenant_a)
    account = SipAccount.objects.get(device=tenant_a.device, index=1)
    account.password = "changed-sip-password"
    account.save()

    assert b"account.1.password = changed-sip-password" in fetch(client, tenant_a).content


def test_a_new_account_and_a_deleted_one_reach_the_phone(client, tenant_a):
    fetch(client, tenant_a)
    make_account(tenant_a.device, 5, password="fifth-line")
    SipAccount.objects.get(device=tenant_a.device, index=2).delete()

    body = fetch(client, tenant_a).content.decode()

    assert "account.5.password = fifth-line" in body
    assert "account.2.enable = 0" in body


def test_a_rotated_password_is_checked_at_once(client, tenant_a):
    fetch(client, tenant_a)
    device = Device.objects.get(pk=tenant_a.device.pk)
    device.rotate_provisioning_password(grace_days=0)
    device.save()

    assert fetch(client, tenant_a).status_code == 401
    assert fetch(client, tenant_a, password=device.provisioning_password).status_code == 200


def test_a_rotated_organisation_password_is_checked_at_once(client, tenant_a):
    def bootstrap(password=None):  # a phone that has not had its own credentials yet
        return client.get(MAC_FILE, headers=tenant_a.phone_headers(password=password))

    bootstrap()
    organisation = Organisation.objects.get(pk=tenant_a.organisation.pk)
    organisation.password_grace_days = 0
    organisation.provisioning_password = "rotated-password"
    organisation.save()

    assert bootstrap().status_code == 401
    assert bootstrap(password="rotated-password").status_code == 200


def test_a_deactivated_phone_is_refused_at_once(client, tenant_a):
    fetch(client, tenant_a)
    device = Device.objects.get(pk=tenant_a.device.pk)
    device.is_active = False
    device.save()

    # Right credentials: 404, not 401 (which makes a Yealink phone prompt for a password).
    assert fetch(client, tenant_a).status_code == 404


def test_a_phonebook_given_to_the_phone_through_many_to_many_reaches_it(client, tenant_a):
    book = Phonebook.objects.create(
        organisation=tenant_a.organisation, name="Chosen", title="Chosen", audience="chosen"
    )
    fetch(client, tenant_a)
    book.devices.add(tenant_a.device)

    assert f"pb-t5x-{book.pk}.xml".encode() in fetch(client, tenant_a).content


def test_a_change_in_another_process_reaches_this_one(client, tenant_a):
    fetch(client, tenant_a)
    # Another process saved something: all this process sees is a new shared version.
    SipAccount.objects.filter(device=tenant_a.device, index=1).update(password="from-elsewhere")
    caches["default"].set(keys.VERSION, "a-new-version-from-elsewhere", timeout=None)

    assert b"account.1.password = from-elsewhere" in fetch(client, tenant_a).content


def test_without_the_shared_cache_a_process_keeps_phones_under_its_own_version(
    client, tenant_a, settings
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }
    settings.THROTTLE_ENABLED = False

    assert fetch(client, tenant_a).status_code == 200
    # For CONFIG_CACHE_MAX_AGE_SECONDS at most (tests/test_redis_faults.py), not per request.
    assert cache.kept_phones() == [tenant_a.device.mac]
    assert (cache.current_version() or "").startswith("local-")


def test_auto_is_off_with_a_per_process_cache(settings):
    settings.CONFIG_CACHE = "auto"

    assert cache.enabled() is False
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://x",
        }
    }
    assert cache.enabled() is True


def test_the_last_seen_fields_are_written_once_a_minute_while_nothing_changes(client, tenant_a):
    fetch(client, tenant_a)
    first = Device.objects.get(pk=tenant_a.device.pk).last_seen_at

    with CaptureQueriesContext(connection) as queries:
        fetch(client, tenant_a)

    assert not any(q["sql"].startswith("UPDATE") for q in queries)
    assert Device.objects.get(pk=tenant_a.device.pk).last_seen_at == first
    other_ip = client.get(MAC_FILE, headers=tenant_a.own_headers(), REMOTE_ADDR="10.9.9.9")
    assert other_ip.status_code == 200
    assert Device.objects.get(pk=tenant_a.device.pk).last_seen_ip == "10.9.9.9"


def test_kept_entries_are_read_again_after_their_maximum_age(
    client, tenant_a, monkeypatch, settings
):
    fetch(client, tenant_a)
    SipAccount.objects.filter(device=tenant_a.device, index=1).update(
        password="behind-djangos-back"
    )
    age = settings.CONFIG_CACHE_MAX_AGE_SECONDS + 1
    later, later_wall = time.monotonic() + age, time.time() + age
    monkeypatch.setattr(time, "monotonic", lambda: later)
    monkeypatch.setattr(time, "time", lambda: later_wall)  # the shared copy's

    assert b"account.1.password = behind-djangos-back" in fetch(client, tenant_a).content


def test_what_every_phone_shares_is_read_once_per_version(client, tenant_a, tenant_b):
    from media_assets.models import SoftkeyFile

    SoftkeyFile.objects.create(
        name="CallIn", call_state="CallIn", content="<CallIn><Enable/></CallIn>"
    )
    assert client.get("/xml/_global/CallIn.xml").status_code == 200

    with CaptureQueriesContext(connection) as queries:
        again = client.get("/xml/_global/CallIn.xml")
    SoftkeyFile.objects.filter(name="CallIn").get().save()  # an admin saves it: a new version
    with CaptureQueriesContext(connection) as after_change:
        client.get("/xml/_global/CallIn.xml")

    assert again.status_code == 200
    assert [q["sql"].split()[0] for q in queries] == ["INSERT", "INSERT"]  # row, hour's count
    assert [q["sql"].split()[0] for q in after_change] == ["SELECT", "INSERT", "INSERT"]


def test_a_phonebook_is_rendered_once_and_again_after_a_contact_changes(client, tenant_a):
    from phonebooks.models import Contact

    book = Phonebook.objects.create(organisation=tenant_a.organisation, name="All", title="All")
    contact = Contact.objects.create(phonebook=book, name="Before", number_1="100")
    path = resource_path(tenant_a.device, f"pb-t5x-{book.pk}.xml")
    headers = {"User-Agent": "Yealink SIP-T54W 96.86.0.100 805ec0aaaa01"}
    client.get(path, headers=headers)

    with CaptureQueriesContext(connection) as queries:
        again = client.get(path, headers=headers)
    contact.name = "After"
    contact.save()
    changed = client.get(path, headers=headers)

    assert b"Before" in again.content
    assert not any("phonebooks_contact" in q["sql"] for q in queries)
    assert b"After" in changed.content and b"Before" not in changed.content


def test_a_csv_import_reaches_the_kept_phonebook(client, tenant_a):
    from phonebooks.csv_io import import_contacts

    book = Phonebook.objects.create(organisation=tenant_a.organisation, name="All", title="All")
    path = resource_path(tenant_a.device, f"pb-t4xg-{book.pk}.xml")
    headers = {"User-Agent": "Yealink SIP-T54W 96.86.0.100 805ec0aaaa01"}
    client.get(path, headers=headers)

    plan = import_contacts(book, b"name,number 1\nImported Person,+31201234567\n")

    assert plan.errors == []
    assert b"Imported Person" in client.get(path, headers=headers).content


def another_process() -> None:
    """What a request in another app-server process sees: only the shared version."""
    serving.reset()


def device_statements(queries) -> list[str]:
    """The lookups of a phone by its MAC among `queries`."""
    return [q["sql"] for q in queries if 'FROM "devices_device" WHERE "mac" = ' in q["sql"]]


def phone_of(tenant, device):
    """The device's request with its own credentials."""
    return {"Authorization": own_basic(device), "User-Agent": user_agent(device)}


def test_a_process_that_misses_a_phone_reads_its_organisation_with_it(client, tenant_a, tenant_b):
    other = Device.objects.create(organisation=tenant_a.organisation, mac="805ec0aaaa02")
    make_account(other, 1, user_name="a201", password="alpha-sip-201")

    with CaptureQueriesContext(connection) as queries:
        assert fetch(client, tenant_a).status_code == 200
    assert len(device_statements(queries)) == 1

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/805ec0aaaa02.cfg", headers=phone_of(tenant_a, other))

    assert response.status_code == 200
    assert b"account.1.password = alpha-sip-201" in response.content
    assert device_statements(queries) == []  # it came with the first phone
    assert tenant_b.device.mac not in cache.kept_phones()  # nor another organisation's


def test_an_organisation_above_the_limit_is_read_phone_by_phone(client, tenant_a, settings):
    settings.CONFIG_CACHE_ORGANISATION_MAX_DEVICES = 1
    other = Device.objects.create(organisation=tenant_a.organisation, mac="805ec0aaaa02")
    fetch(client, tenant_a)

    assert other.mac not in cache.kept_phones()
    with CaptureQueriesContext(connection) as queries:
        client.get("/805ec0aaaa02.cfg", headers=phone_of(tenant_a, other))
    assert len(device_statements(queries)) == 1


def test_a_phone_kept_with_its_organisation_follows_a_change_made_elsewhere(client, tenant_a):
    other = Device.objects.create(organisation=tenant_a.organisation, mac="805ec0aaaa02")
    make_account(other, 1, user_name="a201", password="first")
    fetch(client, tenant_a)  # `other` is kept from here on, never asked for itself
    assert other.mac in cache.kept_phones()
    # Another process saved it: all this process sees is a new shared version.
    SipAccount.objects.filter(device=other).update(password="second")
    caches["default"].set(keys.VERSION, "a-new-version-from-elsewhere", timeout=None)

    response = client.get("/805ec0aaaa02.cfg", headers=phone_of(tenant_a, other))

    assert b"account.1.password = second" in response.content


def test_a_full_process_reads_phone_by_phone_and_keeps_what_it_kept(
    client, tenant_a, tenant_b, settings
):
    settings.CONFIG_CACHE_MAX_ENTRIES = 2
    other = Device.objects.create(organisation=tenant_a.organisation, mac="805ec0aaaa02")
    client.get(f"/{tenant_b.device.mac}.cfg", headers=tenant_b.own_headers())

    fetch(client, tenant_a)  # its organisation (two phones) does not fit beside tenant B's

    assert cache.kept_phones() == [tenant_b.device.mac, tenant_a.device.mac]
    assert other.mac not in cache.kept_phones()


def test_a_phone_round_spread_over_processes_reads_the_database_once_per_process(client, tenant_a):
    fetch(client, tenant_a)
    another_process()

    with CaptureQueriesContext(connection) as queries:
        response = fetch(client, tenant_a)
        again = fetch(client, tenant_a)

    assert (response.status_code, again.status_code) == (200, 200)
    assert b"account.1.password = alpha-sip-101" in response.content
    assert len(device_statements(queries)) == 1


def test_nothing_of_a_phone_is_kept_in_the_shared_cache(client, tenant_a):
    fetch(client, tenant_a)

    shared = caches["default"]
    assert isinstance(shared, LocMemCache)
    stored = vars(shared)["_cache"]  # the tests' shared cache: keys and pickled values
    assert stored  # the version, at least
    for key, value in stored.items():
        assert "805ec0aaaa01" not in key
        assert b"805ec0aaaa01" not in value and b"alpha-sip-101" not in value


def test_the_common_file_is_rendered_once_per_organisation_and_follows_its_changes(
    client, tenant_a, monkeypatch
):
    from devices import views
    from devices.config import render_common_config

    renders = []

    def render(*args, **kwargs):
        renders.append(args)
        return render_common_config(*args, **kwargs)

    monkeypatch.setattr(views, "render_common_config", render)
    other = Device.objects.create(organisation=tenant_a.organisation, mac="805ec0aaaa77")
    for device in (tenant_a.device, other):
        headers = {**tenant_a.phone_headers(), "User-Agent": user_agent(device)}
        assert client.get("/y000000000108.cfg", headers=headers).status_code == 200
    assert len(renders) == 1

    Organisation.objects.filter(pk=tenant_a.organisation.pk).update(ntp_server="ntp.example")
    tenant_a.organisation.refresh_from_db()
    tenant_a.organisation.save()  # as the admin saves it

    again = client.get("/y000000000108.cfg", headers=tenant_a.phone_headers())
    assert b"local_time.ntp_server1 = ntp.example" in again.content
    assert len(renders) == 2


# --- what is kept under one name is never what another request should get ------------------


def test_a_ringtone_kept_for_one_organisation_is_never_anothers(client, tenant_a, tenant_b):
    from media_assets.models import Ringtone
    from tests.media_assets.media import make_ringtone, pcm_wav

    for tenant, seconds in ((tenant_a, 0.5), (tenant_b, 0.25)):
        make_ringtone(tenant.organisation, "ring.wav", pcm_wav(seconds=seconds))

    for tenant in (tenant_a, tenant_b, tenant_a):
        response = client.get(
            resource_path(tenant.device, "ring.wav"),
            headers={"User-Agent": user_agent(tenant.device)},
        )
        own = Ringtone.objects.get(organisation=tenant.organisation, name="ring.wav")
        assert response["ETag"] == f'"{own.sha256}"', tenant.organisation.slug


def test_a_wallpaper_kept_for_one_screen_is_never_another_screens(client, tenant_a):
    from tests.media_assets.media import make_wallpaper

    make_wallpaper(tenant_a.organisation, "logo.png")  # 960x544: fitted to each screen
    other = Device.objects.create(
        organisation=tenant_a.organisation, mac="805ec0aaaa33", model="T48U"
    )
    agents = {
        (480, 272): (tenant_a.device, user_agent(tenant_a.device)),  # a T54W
        (800, 480): (other, "Yealink SIP-T48U 109.86.0.100 80:5e:c0:aa:aa:33"),
    }

    sizes: dict[tuple[int, int], set[str]] = {}
    for screen, (device, agent) in [*agents.items(), *agents.items()]:
        response = client.get(resource_path(device, "logo.png"), headers={"User-Agent": agent})
        sizes.setdefault(screen, set()).add(response["ETag"])

    assert all(len(etags) == 1 for etags in sizes.values())  # the same file, kept
    assert sizes[(480, 272)] != sizes[(800, 480)]


def test_a_phonebook_kept_for_one_family_is_never_another_familys(client, tenant_a):
    book = Phonebook.objects.create(organisation=tenant_a.organisation, name="All", title="All")
    headers = {"User-Agent": user_agent(tenant_a.device)}

    bodies = [
        client.get(
            resource_path(tenant_a.device, f"pb-{family}-{book.pk}.xml"), headers=headers
        ).content
        for family in ("t5x", "t4xg", "t5x", "t4xg")
    ]

    assert bodies[:2] == bodies[2:]
    assert b"<YealinkIPPhoneBook" in bodies[0] and b"<YealinkIPPhoneDirectory" in bodies[1]
