"""What RPS should hold: server names, fields and fingerprints."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ImproperlyConfigured

from devices.models import Device
from organisations.models import Organisation
from rps.apps import check_server_name_prefix
from rps.desired import (
    device_fields,
    device_fingerprint,
    server_fields,
    server_fingerprint,
    server_name,
)

ACCEPTED = re.compile(r"^[A-Za-z0-9._-]{1,20}$")


@pytest.mark.parametrize(
    "slug", ["a", "alpha", "a-very-long-organisation-slug-indeed", "under_score", "x" * 50]
)
def test_a_server_name_is_short_and_made_of_characters_rps_accepts(slug):
    assert ACCEPTED.match(server_name(slug))


def test_a_server_name_is_stable_and_readable():
    assert server_name("alpha") == server_name("alpha")
    assert server_name("alpha").startswith("alpha-")


def test_slugs_cut_to_the_same_start_still_get_different_names():
    first = server_name("customer-number-one-amsterdam")
    second = server_name("customer-number-one-rotterdam")

    assert first[:13] == second[:13]
    assert first != second


def test_another_install_gets_another_name_for_the_same_slug(settings):
    ours = server_name("alpha")
    settings.PROVISIONING_URL = "https://provisioning.other-provider.example/"

    assert server_name("alpha") != ours


def test_the_prefix_setting_starts_every_name_and_a_bad_one_is_refused(settings):
    settings.RPS_SERVER_NAME_PREFIX = "acme."
    assert server_name("alpha").startswith("acme.alpha-")
    assert len(server_name("x" * 50)) == 20

    settings.RPS_SERVER_NAME_PREFIX = "a b"
    with pytest.raises(ImproperlyConfigured, match="RPS_SERVER_NAME_PREFIX"):
        server_name("alpha")


def _organisation(**fields) -> Organisation:
    defaults = {
        "slug": "alpha",
        "provisioning_username": "alpha",
        "provisioning_password": "pw-1-abcdef",
    }
    return Organisation(**{**defaults, **fields})


def test_the_server_carries_our_url_the_organisations_credentials_and_the_ca_url(settings):
    settings.PROVISIONING_URL = "https://p.example/"

    fields = server_fields(_organisation(), "https://p.example/ca.crt")

    assert fields == {
        "serverName": server_name("alpha"),
        "url": "https://p.example/",
        "authName": "alpha",
        "password": "pw-1-abcdef",
        "certificateUrl": "https://p.example/ca.crt",
    }


def test_the_server_fingerprint_follows_every_field_but_does_not_contain_the_password():
    fields = server_fields(_organisation(), "")
    rotated = server_fields(_organisation(provisioning_password="pw-2-abcdef"), "")
    with_ca = server_fields(_organisation(), "https://p.example/ca.crt")

    fingerprint = server_fingerprint(fields)

    assert fingerprint == server_fingerprint(dict(fields))
    assert fingerprint != server_fingerprint(rotated)
    assert fingerprint != server_fingerprint(with_ca)


def test_the_server_fingerprint_is_keyed_so_it_cannot_be_checked_against_guessed_passwords(
    settings,
):
    fields = server_fields(_organisation(), "")
    before = server_fingerprint(fields)

    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"

    assert server_fingerprint(fields) != before


def test_a_bad_prefix_is_a_system_check_error(settings):
    settings.RPS_SERVER_NAME_PREFIX = "much-too-long"

    [error] = check_server_name_prefix(None)

    assert error.id == "rps.E001"


def test_a_device_carries_our_url_and_its_own_credentials(settings):
    settings.PROVISIONING_URL = "https://p.example/"
    device = Device(mac="805ec0000001", provisioning_password="Own24CharacterPassword00")

    assert device_fields(device) == {
        "uniqueServerUrl": "https://p.example/",
        "authName": "805ec0000001",
        "password": "Own24CharacterPassword00",
    }


OWN = {"uniqueServerUrl": "https://p.example/", "authName": "805ec0000001", "password": "pw-1"}


@pytest.mark.parametrize(
    "changed",
    [
        {"uniqueServerUrl": "https://p2.example/"},
        {"authName": "805ec0000002"},
        {"password": "pw-2"},
    ],
)
def test_the_device_fingerprint_follows_each_of_its_own_fields(changed):
    assert device_fingerprint("805ec0000001", "1", OWN) == device_fingerprint(
        "805ec0000001", "1", dict(OWN)
    )
    assert device_fingerprint("805ec0000001", "1", OWN) != device_fingerprint(
        "805ec0000001", "1", {**OWN, **changed}
    )


def test_the_device_fingerprint_follows_the_server_and_the_mac():
    fingerprint = device_fingerprint("805ec0000001", "1", OWN)

    assert fingerprint != device_fingerprint("805ec0000001", "2", OWN)
    assert fingerprint != device_fingerprint("805ec0000002", "1", OWN)
    assert fingerprint != device_fingerprint("805ec0000001", "1", {})


def test_the_device_fingerprint_is_keyed_so_it_cannot_be_checked_against_guessed_passwords(
    settings,
):
    before = device_fingerprint("805ec0000001", "1", OWN)

    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"

    assert device_fingerprint("805ec0000001", "1", OWN) != before
