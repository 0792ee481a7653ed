from django.urls import path, re_path

from devices.credentials import resource_pattern
from media_assets import views

MEDIA_FILE = r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}\.(?ai:png|jpe?g|bmp|wav))$"

# At the root of the provisioning URL, after the config and phonebook patterns. The file
# name pattern takes only the extensions served here, so it swallows nothing else.
urlpatterns = [
    path("ca.crt", views.ca_certificate, name="ca-certificate"),
    re_path(
        r"^xml/_global/(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]{0,63})\.xml$",
        views.softkey_file,
        name="softkey-file",
    ),
    # A phone's wallpaper or ringtone: under its resource token, or with its credentials.
    re_path(resource_pattern(MEDIA_FILE), views.media_file, name="media-file-token"),
    re_path(MEDIA_FILE, views.media_file, name="media-file"),
]
