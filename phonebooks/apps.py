from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PhonebooksConfig(AppConfig):
    name = "phonebooks"
    verbose_name = _("Phonebooks")

    def ready(self) -> None:
        from devices.config import register_device_contributor
        from devices.models import device_moved
        from organisations.scoping import register_scoped_model
        from phonebooks.delivery import phonebook_keys
        from phonebooks.models import Contact, Phonebook

        register_device_contributor(phonebook_keys)
        device_moved.connect(_leave_former_books, dispatch_uid="phonebooks.device_moved")
        register_scoped_model(Phonebook, "organisation")
        register_scoped_model(Contact, "phonebook__organisation")


def _leave_former_books(device: Any, former_organisation_id: int, **_: Any) -> None:
    """A phone moved to another organisation no longer reads its former one's books."""
    from phonebooks.models import Phonebook

    links = Phonebook.devices.through.objects.filter(device=device)
    links.exclude(phonebook__organisation_id=device.organisation_id).delete()
