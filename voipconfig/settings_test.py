"""Settings for the test suite: the normal settings with a fixed key and a fast hasher."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdHMtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleSE=")

from voipconfig.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Rows are written in the request, so a test sees them at once; tests of the batched writer
# switch it on themselves (tests/devices/test_access_log_writer.py), with a spool of their
# own or, failing that, this run's: never the checkout's.
ACCESS_LOG_FLUSH_SECONDS = 0
ACCESS_LOG_SPOOL_DIR = Path(tempfile.mkdtemp(prefix="voipconfig-test-spool-"))
# Firmware images go to this run's directory, never the checkout's.
FIRMWARE_ROOT = Path(tempfile.mkdtemp(prefix="voipconfig-test-firmware-"))
_firmware = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {**STORAGES, "firmware": {**_firmware, "OPTIONS": {"location": FIRMWARE_ROOT}}}  # noqa: F405
FIRMWARE_SLOTS_DIR = Path(tempfile.mkdtemp(prefix="voipconfig-test-firmware-slots-"))
