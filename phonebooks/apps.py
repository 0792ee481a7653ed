from django.apps import AppConfig


class PhonebooksConfig(AppConfig):
    name = "phonebooks"
    verbose_name = "Phonebooks"

    def ready(self) -> None:
        from devices.config import register_device_contributor
        from organisations.scoping import register_scoped_model
        from phonebooks.delivery import phonebook_keys
        from phonebooks.models import Contact, Phonebook

        register_device_contributor(phonebook_keys)
        register_scoped_model(Phonebook, "organisation")
        register_scoped_model(Contact, "phonebook__organisation")
