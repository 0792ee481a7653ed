"""Demo data: every demo organisation gets a phonebook that shows escaping and Unicode."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command
from lxml import etree

from devices.models import Device
from organisations.models import Organisation
from phonebooks.models import Phonebook
from tests.factories import resource_path, user_agent


def test_each_demo_organisation_gets_a_phonebook(db):
    call_command("loaddemo", stdout=StringIO())

    for organisation in Organisation.objects.all():
        assert organisation.phonebooks.filter(contacts__isnull=False).exists()


def test_the_demo_book_shows_escaping_and_unicode_on_the_phone(client, db):
    call_command("loaddemo", stdout=StringIO())
    book = Phonebook.objects.get(organisation__slug="demo")
    device = Device.objects.get(mac="805ec0000001")

    path = resource_path(device, f"pb-t4xg-{book.pk}.xml")
    response = client.get(path, headers={"User-Agent": user_agent(device)})

    names = [entry.findtext("Name") for entry in etree.fromstring(response.content)]
    assert {"Jansen & Zn <Verkoop>", "Åsa Ødegård", "محمد"} <= set(names)
    assert book.size_bytes is not None
    assert book.size_bytes >= len(response.content)  # the largest flavour


def test_loading_the_demo_twice_changes_nothing(db):
    call_command("loaddemo", stdout=StringIO())
    books, contacts = (
        Phonebook.objects.count(),
        sum(b.contacts.count() for b in Phonebook.objects.all()),
    )

    call_command("loaddemo", stdout=StringIO())

    assert Phonebook.objects.count() == books
    assert sum(b.contacts.count() for b in Phonebook.objects.all()) == contacts
