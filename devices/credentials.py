"""A phone's own provisioning credentials, and the token its resource URLs carry.

Every device has them from the moment it is created: its MAC (12 lower-case hex digits) as
the user name and a random password of PASSWORD_LENGTH characters (over 140 bits). RPS hands
them to a phone fresh from the factory, and the MAC file sets them, so from its next round a
phone set up with its organisation's credentials uses its own (see `docs/architecture.md`,
"Trust between server and phone").

The resource token is derived from the password: whoever holds one holds the other, so a
new password also makes a new token, and the old token stays good exactly as long as the
old password does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import string

PASSWORD_ALPHABET = string.ascii_letters + string.digits  # safe in any config line or URL
PASSWORD_LENGTH = 24  # of 62 characters: about 143 bits
TOKEN_LENGTH = 22  # 16 bytes, URL-safe base64 without padding: 128 bits
TOKEN_PATTERN = r"[A-Za-z0-9_-]{22}"
MAC_SHAPED = re.compile(r"^[0-9a-f]{12}$")


def new_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def looks_like_mac(username: str) -> bool:
    """A user name of the form a phone's own has (its MAC, in either case); organisations
    may not take one."""
    return MAC_SHAPED.match(username.lower()) is not None


def resource_token(mac: str, password: str) -> str:
    """The token in the phone's resource URLs: HMAC-SHA256 under its password."""
    digest = hmac.new(
        password.encode(), f"voipconfig.resource-token:{mac}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def token_matches(token: str, mac: str, passwords: list[str]) -> bool:
    """Whether `token` is the token of one of `passwords` (each compared in constant time,
    and all of them, so the time tells nothing about which)."""
    right = False
    for password in passwords:
        right |= hmac.compare_digest(token.encode(), resource_token(mac, password).encode())
    return right


# A phone's resource URLs: /p/<mac>/<token>/<name>. The MAC names the phone, the token
# proves the request comes from it (no auth exchange, so every firmware manages it).
RESOURCE_PREFIX = "p"


def resource_path(mac: str, password: str, name: str) -> str:
    return f"{RESOURCE_PREFIX}/{mac}/{resource_token(mac, password)}/{name}"


_TOKEN_IN_PATH = re.compile(rf"/{RESOURCE_PREFIX}/([0-9A-Fa-f]{{12}})/{TOKEN_PATTERN}/")


def mask_token(text: str) -> str:
    """A request path (or a config file) as the admin and the access log show it: every
    resource URL's token left out, wherever the URL is mounted (whoever reads them must not
    be able to fetch the phone's files)."""
    return _TOKEN_IN_PATH.sub(rf"/{RESOURCE_PREFIX}/\1/…/", text)


def resource_pattern(pattern: str) -> str:
    """The URL pattern of a resource under a phone's token, from its pattern at the root
    (`^pb-…\\.xml$`): `^p/<mac>/<token>/pb-…\\.xml$`. ASCII classes only."""
    rest = pattern.removeprefix("^")
    return f"^{RESOURCE_PREFIX}/(?P<mac>[0-9A-Fa-f]{{12}})/(?P<token>{TOKEN_PATTERN})/{rest}"
