"""The admin login locks a user name out of an address after repeated wrong passwords
(issue 15, part 7: 30 wrong passwords, then the right one, logged in at once).

Through the real login page, with the address as the server sees it: REMOTE_ADDR, or behind
nginx (TRUSTED_PROXY_HOPS=1) the hop nginx appended to X-Forwarded-For.
"""

from __future__ import annotations

import html

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model

from organisations.staff import create_organisation_staff

User = get_user_model()
LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "Right-Passw0rd-for-alice"
LOCKED = (
    "Too many failed logins: try again in 15 minutes, or ask your provider to unlock the account."
)


@pytest.fixture
def alice(tenant_a):
    """Organisation staff: a customer, logging in from the internet."""
    return create_organisation_staff(tenant_a.organisation, "alice", PASSWORD, validate=False)


def log_in(client, password, username="alice", **environ):
    environ.setdefault("REMOTE_ADDR", "203.0.113.9")
    data = {"username": username, "password": password, "next": "/admin/"}
    return client.post(LOGIN, data, **environ)


def logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def fail(client, times, **environ):
    return [log_in(client, f"wrong-{n}", **environ) for n in range(times)][-1]


def test_the_right_password_after_too_many_wrong_ones_is_refused(client, alice):
    tries = [log_in(client, f"wrong-{n}") for n in range(5)]

    right = log_in(client, PASSWORD)

    assert [t.status_code for t in tries] == [200, 200, 200, 200, 429]
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    page = html.unescape(right.content.decode())
    assert LOCKED in page
    assert 'id="login-form"' in page and 'value="alice"' in page  # the login page, filled in
    assert "Please enter the correct username" not in page


def test_a_few_wrong_passwords_then_the_right_one_log_in_and_are_forgotten(client, alice):
    fail(client, 4)

    assert logged_in(log_in(client, PASSWORD))
    assert not AccessAttempt.objects.exists()


def test_the_lockout_ends_after_the_lockout_time(client, alice):
    from datetime import timedelta

    from django.utils import timezone

    fail(client, 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert logged_in(log_in(client, PASSWORD))


def test_the_lock_is_for_that_user_name_from_that_address_only(client, alice, tenant_a):
    create_organisation_staff(tenant_a.organisation, "bob", PASSWORD, validate=False)
    fail(client, 5)

    # The office's other address; a colleague at the locked-out address.
    assert logged_in(log_in(client, PASSWORD, REMOTE_ADDR="198.51.100.20"))
    client.logout()
    assert logged_in(log_in(client, PASSWORD, username="bob"))


def test_addresses_of_one_ipv6_network_share_the_lock(client, alice):
    """Found by the review of issue 15: each of a /64's addresses had its own five tries."""
    for host in range(1, 6):
        log_in(client, "wrong", REMOTE_ADDR=f"2001:db8:1:2::{host:x}")

    assert not logged_in(log_in(client, PASSWORD, REMOTE_ADDR="2001:db8:1:2::ff"))
    assert logged_in(log_in(client, PASSWORD, REMOTE_ADDR="2001:db8:1:3::1"))


def test_a_forged_forwarded_for_header_changes_nothing(client, alice, settings):
    settings.TRUSTED_PROXY_HOPS = 0  # no proxy: the header is the client's own words

    for n in range(5):
        log_in(client, f"wrong-{n}", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")

    assert log_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429


def test_behind_nginx_the_address_is_the_hop_nginx_added(client, alice, settings):
    """nginx appends the address it saw ($proxy_add_x_forwarded_for) and gunicorn gets every
    request from 127.0.0.1: the lock is on that appended address, whatever came before it."""
    settings.TRUSTED_PROXY_HOPS = 1
    via_nginx = {"REMOTE_ADDR": "127.0.0.1"}

    for n in range(5):
        log_in(client, f"wrong-{n}", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.9", **via_nginx)
    locked = log_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9", **via_nginx)
    elsewhere = log_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.20", **via_nginx)

    assert locked.status_code == 429
    assert logged_in(elsewhere)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}


def test_the_provider_sees_the_lockout_and_unlocks_it(client, admin_client, alice):
    fail(client, 5)
    listing = admin_client.get("/admin/axes/accessattempt/")
    attempt = AccessAttempt.objects.get()

    done = admin_client.post(
        "/admin/axes/accessattempt/",
        {"action": "unlock", "_selected_action": [attempt.pk]},
        follow=True,
    )

    assert list(listing.context["cl"].result_list) == [attempt]
    assert 'alt="True"' in listing.content.decode()  # the locked-out column
    assert "Unlocked: alice from 203.0.113.9." in done.content.decode()
    assert logged_in(log_in(client, PASSWORD))


def test_organisation_staff_cannot_see_or_unlock_lockouts(client, alice, tenant_a):
    fail(client, 5, REMOTE_ADDR="198.51.100.30")
    attempt = AccessAttempt.objects.get()
    assert logged_in(log_in(client, PASSWORD))

    assert client.get("/admin/axes/accessattempt/").status_code == 403
    assert client.get(f"/admin/axes/accessattempt/{attempt.pk}/change/").status_code == 404
    client.post(
        "/admin/axes/accessattempt/", {"action": "unlock", "_selected_action": [attempt.pk]}
    )
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()


def test_phones_are_answered_as_before(client, tenant_a):
    """The lockout's middleware and signals are on every request: phone requests pass
    through them untouched."""
    from tests.conftest import basic
    from tests.factories import user_agent

    headers = {
        "User-Agent": user_agent(tenant_a.device),
        "Authorization": basic(tenant_a.username, "wrong"),
    }
    for _ in range(6):
        client.get("/805ec0aaaa01.cfg", headers=headers)

    response = client.get("/805ec0aaaa01.cfg", headers=tenant_a.own_headers())

    assert response.status_code == 200
    assert not AccessAttempt.objects.exists()
