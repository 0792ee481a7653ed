"""The firmware storage backend on an S3-compatible object store (FIRMWARE_STORAGE=s3).

Kept out of settings.py so that the tests build the backend the settings build, from the same
environment variables, against their own S3 server.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config


def s3_firmware_storage(env: Any, signed_url_seconds: int) -> dict[str, Any]:
    """STORAGES["firmware"] for a private bucket: a phone reads an object only through a URL
    signed for `signed_url_seconds` (FIRMWARE_DELIVERY=signed-url)."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("FIRMWARE_S3_BUCKET", default=""),
            "endpoint_url": env.str("FIRMWARE_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("FIRMWARE_S3_REGION", default="") or None,
            "access_key": env.str("FIRMWARE_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("FIRMWARE_S3_SECRET_ACCESS_KEY", default="") or None,
            "querystring_auth": True,
            "querystring_expire": signed_url_seconds,
            # No ACL sent: the bucket's own (private) policy applies, and a bucket with ACLs
            # disabled (S3's default since 2023) refuses an upload that names one.
            "default_acl": None,
            "file_overwrite": False,
            # What phones are sent, whatever type the provider's browser gave the upload.
            "object_parameters": {"ContentType": "application/octet-stream"},
            "client_config": _client_config(env),
        },
    }


def _client_config(env: Any) -> Config:
    # With a client_config, django-storages takes the signature version and the addressing
    # style from it alone. The timeouts: a hung store must not hold a worker for botocore's
    # default of a minute per try (the download view asks the store whether the image is there).
    return Config(
        signature_version="s3v4",
        s3={"addressing_style": env.str("FIRMWARE_S3_ADDRESSING_STYLE", default="auto")},
        connect_timeout=5,
        read_timeout=30,
        retries={"mode": "standard", "max_attempts": 3},
    )
