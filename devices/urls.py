from django.urls import re_path

from devices import views

# Yealink phones ask for these names at the root of the provisioning URL.
# ASCII classes only ([0-9], not \d, which matches every script's digits).
urlpatterns = [
    re_path(r"^y000000000000\.boot$", views.common_boot, name="common-boot"),
    re_path(r"^y(?P<code>[0-9]{12})\.cfg$", views.common_config, name="common-config"),
    re_path(r"^(?P<mac>[0-9A-Fa-f]{12})\.cfg$", views.mac_config, name="mac-config"),
    re_path(r"^(?P<mac>[0-9A-Fa-f]{12})\.boot$", views.mac_boot, name="mac-boot"),
]
