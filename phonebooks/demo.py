"""A phonebook for each demo organisation (used by `manage.py loaddemo`).

The demo organisation's book holds names that break hand-made XML (`&`, `<`, quotes) and
names in other scripts, so anyone trying the demo sees escaping and Unicode work.
"""

from __future__ import annotations

from devices.demo import DEMO_ORGANISATIONS
from organisations.models import Organisation
from phonebooks.models import Contact, Phonebook
from phonebooks.render import refresh_size

Spec = dict[str, str | int]  # a contact's fields: position is an int, the others are text

DEMO_CONTACTS: dict[str, list[Spec]] = {
    "demo": [
        {"name": "Jansen & Zn <Verkoop>", "group": "Customers", "number_1": "+31 20 123 4567"},
        {
            "name": "Åsa Ødegård",
            "group": "Customers",
            "number_1": "+47 22 12 34 56",
            "number_2": "+47 912 34 567",
        },
        {"name": "محمد", "group": "Customers", "number_1": "+971 4 123 4567"},
        {"name": "王小明", "group": "Suppliers", "number_1": "+86 10 1234 5678"},
        {"name": 'The "Pizza" Place 🍕', "group": "Suppliers", "number_1": "020-765 43 21"},
        {"name": "Reception", "group": "Colleagues", "number_1": "1001", "position": 1},
        {"name": "Sales", "group": "Colleagues", "number_1": "1002", "position": 2},
        {"name": "Voicemail", "number_1": "*97"},
    ],
}
DEFAULT_CONTACTS: list[Spec] = [
    {"name": "Front desk", "group": "Colleagues", "number_1": "2001"},
    {"name": "Service desk", "number_1": "+32 2 123 45 67", "number_2": "+32 470 12 34 56"},
]


def create_demo_data() -> int:
    """Create what is missing; return how many objects were created."""
    slugs = [spec["slug"] for spec in DEMO_ORGANISATIONS]
    return sum(_create_book(o) for o in Organisation.objects.filter(slug__in=slugs))


def _create_book(organisation: Organisation) -> int:
    book, created = Phonebook.objects.get_or_create(
        organisation=organisation,
        name=f"{organisation.name} contacts",
        defaults={"title": "Contacts"},
    )
    count = int(created)
    for spec in DEMO_CONTACTS.get(organisation.slug, DEFAULT_CONTACTS):
        spec = dict(spec)
        _, made = Contact.objects.get_or_create(
            phonebook=book, name=spec.pop("name"), group=spec.pop("group", ""), defaults=spec
        )
        count += int(made)
    if count:
        refresh_size(book)
    return count
