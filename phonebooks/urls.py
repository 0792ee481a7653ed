from django.urls import re_path

from devices.credentials import resource_pattern
from phonebooks import views

# Phones ask for their phonebooks under their resource token (the MAC file writes those
# URLs), or at the root of the provisioning URL with their credentials. ASCII classes only
# ([0-9], not \d, which matches every script's digits).
PHONEBOOK = r"^pb-(?P<family>[A-Za-z0-9_]+)-(?P<pk>[0-9]+)\.xml$"

urlpatterns = [
    re_path(resource_pattern(PHONEBOOK), views.phonebook_xml, name="phonebook-xml-token"),
    re_path(PHONEBOOK, views.phonebook_xml, name="phonebook-xml"),
]
