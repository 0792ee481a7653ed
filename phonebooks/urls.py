from django.urls import re_path

from phonebooks import views

# Phones ask for their phonebooks at the root of the provisioning URL.
urlpatterns = [
    re_path(
        r"^pb-(?P<family>[A-Za-z0-9_]+)-(?P<pk>\d+)\.xml$",
        views.phonebook_xml,
        name="phonebook-xml",
    ),
]
