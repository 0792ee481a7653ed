"""What a phone endpoint knows about the caller, as the views see it: `request.phone`."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypedDict

from django.conf import settings
from django.http import HttpRequest

from devices.mac import UserAgent
from devices.models import AccessLog, Device
from organisations.models import Organisation

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Remember(TypedDict, total=False):
    """Device fields a view wants written with the phone's visit (in the same statement)."""

    last_config_sha256: str
    last_config: str
    provisioned_firmware: str
    own_credentials_used_at: datetime
    previous_provisioning_password: str
    previous_password_valid_until: datetime | None


class Visit(Remember, total=False):
    """The device fields a successful request writes with its access-log row."""

    last_seen_at: datetime
    last_seen_ip: str | None
    last_user_agent: str
    last_firmware: str


@dataclass
class PhoneRequest:
    """What `phone_endpoint` learned about the caller."""

    user_agent: UserAgent
    mac: str | None  # from the file name, else from the User-Agent
    device: Device | None = None  # with its organisation and accounts
    organisation: Organisation | None = None
    username: str = ""  # as the phone sent it
    used_previous_password: bool = False
    authenticated: bool = False  # its credentials were checked and right
    schemes: list[str] = field(default_factory=list)  # the schemes this request may use
    remember: Remember = field(default_factory=lambda: Remember())
    visit: Visit | None = None  # set by the endpoint once the request succeeded
    # The view's own word for its answer, when its status code alone would not say it.
    outcome: AccessLog.Outcome | None = None


class PhoneHttpRequest(HttpRequest):
    """The request a phone view is given: `phone` is set before the view runs.

    Only for type checking: the object is the server's own request (WSGIRequest).
    """

    phone: PhoneRequest


def clean_header(value: str, limit: int = 1024) -> str:
    """Header text safe to parse and store: no control characters (PostgreSQL refuses NUL)."""
    return _CONTROL.sub("", value[:limit])


def client_ip(request: HttpRequest) -> str | None:
    """The phone's address; behind TRUSTED_PROXY_HOPS proxies, from X-Forwarded-For."""
    hops = settings.TRUSTED_PROXY_HOPS
    address = request.META.get("REMOTE_ADDR") or None
    if hops:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(address)) if address else None
    except ValueError:
        return None
