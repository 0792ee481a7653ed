from django.apps import AppConfig


class PhonebooksConfig(AppConfig):
    name = "phonebooks"
    verbose_name = "Phonebooks"
