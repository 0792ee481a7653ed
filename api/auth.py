"""`Authorization: Bearer <token>`: the only way into the API (no sessions, so no CSRF)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from api import tokens
from api.models import ApiToken
from organisations.scoping import ApiClient


class BearerAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiToken] | None:
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != self.keyword.lower().encode():
            raise exceptions.AuthenticationFailed(
                gettext("Send the token as `Authorization: Bearer <token>`."), code="not_bearer"
            )
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                gettext(
                    "The Authorization header holds `Bearer` and the token, one space between."
                ),
                code="malformed_authorization",
            )
        try:
            text = header[1].decode("ascii")
        except UnicodeDecodeError:
            text = ""
        token = tokens.find(text)
        if token is None:
            raise exceptions.AuthenticationFailed(gettext("No such token."), code="invalid_token")
        now = timezone.now()
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(
                gettext("This token was revoked."), code="token_revoked"
            )
        if token.expires_at is not None and token.expires_at <= now:
            raise exceptions.AuthenticationFailed(
                gettext("This token has expired."), code="token_expired"
            )
        _note_use(token, now)
        client = ApiClient(
            token_id=token.pk,
            name=token.name,
            organisation=token.organisation,
            read_only=token.read_only,
            user=token.user,
        )
        return client, token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="voipconfig API"'


def _note_use(token: ApiToken, now: datetime) -> None:
    """`last_used_at`, written at most once a API_TOKEN_USE_RESOLUTION_SECONDS: not a
    write per request."""
    every = timedelta(seconds=settings.API_TOKEN_USE_RESOLUTION_SECONDS)
    if token.last_used_at is None or token.last_used_at <= now - every:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
