from django.urls import path, re_path

from media_assets import views

# At the root of the provisioning URL, after the config and phonebook patterns. The file
# name pattern takes only the extensions served here, so it swallows nothing else.
urlpatterns = [
    path("ca.crt", views.ca_certificate, name="ca-certificate"),
    re_path(
        r"^xml/_global/(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]{0,63})\.xml$",
        views.softkey_file,
        name="softkey-file",
    ),
    re_path(
        r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}\.(?ai:png|jpe?g|bmp|wav))$",
        views.media_file,
        name="media-file",
    ),
]
