"""What RPS should hold for an organisation and a device: plain functions, no HTTP."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.crypto import salted_hmac

from devices.models import Device
from organisations.models import Organisation

SERVER_NAME_MAX = 20  # yealink.md: unique across all RPS customers, 20 characters is safe
PREFIX_MAX = 8
HASH_LENGTH = 6
_NOT_ACCEPTED = re.compile(r"[^A-Za-z0-9._-]")
_PREFIX = re.compile(r"^[A-Za-z0-9._-]*$")


def provisioning_password(organisation: Organisation) -> str:
    """The password RPS hands the phones. The one place it is read, so that credential
    rotation has one place to change."""
    return organisation.provisioning_password


def server_name_prefix() -> str:
    prefix = getattr(settings, "RPS_SERVER_NAME_PREFIX", "")
    if len(prefix) > PREFIX_MAX or not _PREFIX.match(prefix):
        raise ImproperlyConfigured(
            f"RPS_SERVER_NAME_PREFIX must be at most {PREFIX_MAX} characters of "
            f"A-Z a-z 0-9 - _ . (it is {prefix!r})."
        )
    return prefix


def server_name(slug: str) -> str:
    """`<prefix><slug, cut>-<hash>`, at most 20 characters RPS accepts, the same every run.

    Server names are unique across all RPS customers. The hash covers the prefix, the slug and
    our PROVISIONING_URL, so two providers (or a staging and a production install) with the same
    slug get different names, and two slugs cut to the same start still differ.
    """
    prefix = server_name_prefix()
    seed = f"{prefix}|{slug}|{settings.PROVISIONING_URL}".encode()
    digest = hashlib.sha256(seed).hexdigest()[:HASH_LENGTH]
    room = SERVER_NAME_MAX - len(prefix) - HASH_LENGTH - 1
    readable = _NOT_ACCEPTED.sub("", slug)[:room].rstrip("-_.")
    return f"{prefix}{readable}-{digest}" if readable else f"{prefix}{digest}"


def server_fields(organisation: Organisation, certificate_url: str) -> dict[str, str]:
    """The body of server/add and server/edit (without the id)."""
    return {
        "serverName": server_name(organisation.slug),
        "url": settings.PROVISIONING_URL,
        "authName": organisation.provisioning_username,
        "password": provisioning_password(organisation),
        "certificateUrl": certificate_url,
    }


def server_fingerprint(fields: dict[str, str]) -> str:
    """Changes when any field does. Keyed with SECRET_KEY: a plain hash of a short password
    stored in the database would be one dictionary attack away from the password."""
    text = json.dumps(fields, sort_keys=True)
    return salted_hmac("voipconfig.rps.server", text, algorithm="sha256").hexdigest()[:32]


def device_fields(device: Device) -> dict[str, str]:
    """What RPS hands this phone of its own (the per-device fields of device/add and
    device/edit): our URL and the phone's own credentials, so a phone fresh from the factory
    uses its own from its first request. The server keeps the organisation's as a fallback."""
    return {
        "uniqueServerUrl": settings.PROVISIONING_URL,
        "authName": device.provisioning_username,
        "password": device.provisioning_password,
    }


def device_fingerprint(mac: str, server_rps_id: str, fields: Mapping[str, str]) -> str:
    """Changes when the server or any of `fields` does; keyed like `server_fingerprint`, as
    it covers the phone's password. `fields` empty: on that server, with nothing of its own
    we know of (the recorded fingerprint of a phone we found in RPS but never pushed)."""
    text = json.dumps({"mac": mac, "serverId": server_rps_id, **fields}, sort_keys=True)
    return salted_hmac("voipconfig.rps.device", text, algorithm="sha256").hexdigest()[:32]
