"""Making, finding and describing API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from api.models import ApiToken
from organisations.models import Organisation

PREFIX = "vc_"  # tells a voipconfig token in a log or a secret scanner's finding
_DURATION = re.compile(r"^\s*(\d{1,5})\s*([hdw])\s*$", re.IGNORECASE)
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def parse_duration(text: str) -> timedelta:
    """`90d`, `12h`, `2w`: how long a token lasts. ValueError says what is accepted."""
    match = _DURATION.match(text)
    if not match or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration: write a number and h, d or w, such as 90d.")
    return timedelta(**{_UNITS[match[2].lower()]: int(match[1])})


@transaction.atomic
def issue(
    name: str,
    organisation: Organisation | None,
    *,
    read_only: bool = False,
    expires_at: datetime | None = None,
    created_by: User | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its text, which is not kept anywhere: show it once."""
    name = name.strip()
    if not name:
        raise ValueError("A token needs a name: what will use it (billing, PBX).")
    if len(name) > 100:
        raise ValueError("A token's name has at most 100 characters.")
    text = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        organisation=organisation,
        read_only=read_only,
        expires_at=expires_at,
        key_hash=digest(text),
        prefix=text[:10],
        created_by=created_by,
        user=_history_user(name),
    )
    token.save()
    return token, text


def _history_user(name: str) -> User:
    """The user the admin's history names for the token's changes: never active, no
    password, not staff, so it can log in nowhere."""
    User = get_user_model()
    user = User(
        username=f"api-{secrets.token_hex(6)}",
        first_name="API token",
        last_name=name[:150],
        is_active=False,
        is_staff=False,
    )
    user.set_unusable_password()
    user.save()
    return user


def find(text: str) -> ApiToken | None:
    if not text.startswith(PREFIX) or len(text) > 100:
        return None
    return (
        ApiToken.objects.select_related("organisation", "user")
        .filter(key_hash=digest(text))
        .first()
    )


def revoke(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
