from django.urls import re_path

from phonebooks import views

# Phones ask for their phonebooks at the root of the provisioning URL. ASCII classes only
# ([0-9], not \d, which matches every script's digits).
urlpatterns = [
    re_path(
        r"^pb-(?P<family>[A-Za-z0-9_]+)-(?P<pk>[0-9]+)\.xml$",
        views.phonebook_xml,
        name="phonebook-xml",
    ),
]
