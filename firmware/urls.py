from django.urls import re_path

from devices.credentials import resource_pattern
from firmware import views

# firmware/<image pk>/<version>.rom: the name the MAC file gives (firmware.targets).
FIRMWARE_FILE = r"^firmware/(?P<pk>[0-9]{1,18})/(?P<name>[0-9]{1,3}(?:\.[0-9]{1,4}){3}\.rom)$"

urlpatterns = [
    re_path(resource_pattern(FIRMWARE_FILE), views.firmware_file, name="firmware-file-token"),
    re_path(FIRMWARE_FILE, views.firmware_file, name="firmware-file"),
]
