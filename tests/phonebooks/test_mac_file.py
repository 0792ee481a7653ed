"""The MAC file lists the books a phone may read, at most five, in the stated order."""

from __future__ import annotations

from django.test import override_settings

from devices.config import device_config
from devices.serving import cache
from organisations.config_syntax import unknown_keys
from phonebooks.delivery import phonebook_keys, phones_missing_books
from tests.factories import make_device, resource_path
from tests.phonebooks.factories import make_phonebook

PREFIX = "remote_phonebook.data"


def listed(config: dict[str, str]) -> list[tuple[str, str]]:
    return [
        (config[f"{PREFIX}.{n}.url"], config[f"{PREFIX}.{n}.name"])
        for n in range(1, 6)
        if config[f"{PREFIX}.{n}.url"] != "%NULL%"
    ]


@override_settings(PROVISIONING_URL="https://prov.example/")
def test_the_mac_file_lists_the_books_and_enables_the_remote_phonebook(client, tenant_a):
    book = make_phonebook(tenant_a.organisation, title="Sales")

    response = client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers())

    body = response.content.decode()
    assert "features.remote_phonebook.enable = 1" in body
    url = "https://prov.example" + resource_path(tenant_a.device, f"pb-t5x-{book.pk}.xml")
    assert f"{PREFIX}.1.url = {url}" in body  # under the phone's own token
    assert f"{PREFIX}.1.name = Sales" in body
    # And the URL the phone was given is what it gets the book from, with nothing else.
    path = url.removeprefix("https://prov.example")
    assert client.get(path, headers={"User-Agent": "Yealink SIP-T54W 96.86.0.100"}).status_code == (
        200
    )


def test_the_type_in_the_url_matches_the_phones_model(tenant_a, tenant_b):
    book_a = make_phonebook(tenant_a.organisation)
    book_b = make_phonebook(tenant_b.organisation)
    dect = make_device(tenant_a.organisation, model="W60B")

    assert listed(device_config(tenant_a.device))[0][0].endswith(f"/pb-t5x-{book_a.pk}.xml")
    assert listed(device_config(tenant_b.device))[0][0].endswith(f"/pb-t4xg-{book_b.pk}.xml")
    assert listed(device_config(dect))[0][0].endswith(f"/pb-dect-{book_a.pk}.xml")


def test_a_phone_gets_only_its_own_organisations_books_that_it_may_read(tenant_a, tenant_b):
    other = make_device(tenant_a.organisation)
    for_all = make_phonebook(tenant_a.organisation, name="All", title="All")
    make_phonebook(tenant_a.organisation, name="Other phone only", devices=[other])
    chosen = make_phonebook(tenant_a.organisation, name="Mine", title="Mine", position=1)
    chosen.devices.set([tenant_a.device, other])
    make_phonebook(tenant_b.organisation, name="B's")

    names = [name for _, name in listed(device_config(tenant_a.device))]

    assert names == [chosen.title, for_all.title]


def test_more_than_five_books_gives_the_first_five_by_position_then_name(tenant_a):
    for name, position in [("F", 1), ("E", 1), ("D", 2), ("C", 3), ("B", 4), ("A", 9)]:
        make_phonebook(tenant_a.organisation, name=name, title=name, position=position)

    names = [name for _, name in listed(device_config(tenant_a.device))]

    assert names == ["E", "F", "D", "C", "B"]
    missing = phones_missing_books(tenant_a.organisation)
    assert [book.name for book in missing[tenant_a.device]] == ["A"]


def test_unused_slots_are_blanked_so_a_removed_book_leaves_the_phone(tenant_a):
    book = make_phonebook(tenant_a.organisation)
    book.delete()

    config = dict(phonebook_keys(tenant_a.device))

    assert config["features.remote_phonebook.enable"] == "0"
    assert all(config[f"{PREFIX}.{n}.url"] == "%NULL%" for n in range(1, 6))
    assert all(config[f"{PREFIX}.{n}.name"] == "%NULL%" for n in range(1, 6))


def test_the_keys_are_known_yealink_keys(tenant_a):
    make_phonebook(tenant_a.organisation)

    assert unknown_keys(dict(phonebook_keys(tenant_a.device))) == []


def test_the_contributor_costs_two_queries_per_organisation_however_many_books(
    settings, tenant_a, django_assert_num_queries
):
    settings.CONFIG_CACHE = True
    cache.bump()
    other = make_device(tenant_a.organisation, "805ec0aaaa99")
    for index in range(8):
        make_phonebook(tenant_a.organisation, name=f"Book {index}")

    with django_assert_num_queries(2):  # the books, and who was chosen for which
        phonebook_keys(tenant_a.device)
    with django_assert_num_queries(0):  # kept for every phone of the organisation
        phonebook_keys(other)


def test_a_phone_chosen_for_a_book_gets_it_in_its_next_mac_file(settings, tenant_a):
    settings.CONFIG_CACHE = True
    cache.bump()
    book = make_phonebook(tenant_a.organisation, audience="chosen")
    assert listed(dict(phonebook_keys(tenant_a.device))) == []

    book.devices.add(tenant_a.device)

    assert [name for _, name in listed(dict(phonebook_keys(tenant_a.device)))] == [book.title]


def test_no_phone_misses_a_book_with_five_or_fewer(tenant_a):
    for index in range(5):
        make_phonebook(tenant_a.organisation, name=f"Book {index}")

    assert phones_missing_books(tenant_a.organisation) == {}
