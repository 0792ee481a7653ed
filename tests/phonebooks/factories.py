"""Factories for phonebooks and contacts: build in code, no fixtures files."""

from __future__ import annotations

import itertools

from devices.models import Device
from organisations.models import Organisation
from phonebooks.models import Contact, Phonebook
from tests.factories import resource_path, user_agent

_serial = itertools.count(1)


def make_phonebook(
    organisation: Organisation, *, devices: list[Device] | None = None, **fields
) -> Phonebook:
    number = next(_serial)
    fields.setdefault("name", f"Book {number}")
    fields.setdefault("title", fields["name"])
    if devices is not None:
        fields.setdefault("audience", Phonebook.Audience.CHOSEN)
    book = Phonebook.objects.create(organisation=organisation, **fields)
    if devices:
        book.devices.set(devices)
    return book


def make_contact(phonebook: Phonebook, name: str | None = None, **fields) -> Contact:
    fields.setdefault("number_1", f"+31 20 {next(_serial):07d}")
    return Contact.objects.create(
        phonebook=phonebook, name=name or f"Contact {next(_serial)}", **fields
    )


def make_contacts(phonebook: Phonebook, count: int, *, groups: int = 0) -> list[Contact]:
    contacts = [
        Contact(
            phonebook=phonebook,
            name=f"Contact {index:05d}",
            group=f"Group {index % groups}" if groups else "",
            number_1=f"+31 20 {index:07d}",
            number_2=f"06-{index:08d}",
            position=index,
        )
        for index in range(count)
    ]
    return Contact.objects.bulk_create(contacts)


def phone_get(client, path: str, device_or_mac, *, model: str = "T54W", **headers):
    """GET as the phone sends it: at the URL its MAC file gives (under its resource token),
    with its User-Agent (MAC with colons), no credentials. For a MAC that is no device, a
    token of the right form."""
    if isinstance(device_or_mac, Device):
        path = resource_path(device_or_mac, path)
    elif device_or_mac is not None:
        path = f"/p/{device_or_mac}/{'A' * 22}{path}"
    return client.get(path, headers={"User-Agent": user_agent(device_or_mac, model), **headers})


def make_staff(organisation: Organisation, username: str = "staff"):
    """A member of the organisation's own staff, who must see only its data in the admin."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from organisations.models import OrganisationStaff
    from organisations.scoping import ORGANISATION_STAFF_GROUP, sync_groups

    sync_groups()
    user = get_user_model().objects.create_user(username, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=ORGANISATION_STAFF_GROUP))
    OrganisationStaff.objects.create(user=user, organisation=organisation)
    return user
