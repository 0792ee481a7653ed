from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from organisations.models import Organisation


class ApiToken(models.Model):
    """A Bearer token of the REST API. Only its SHA-256 is kept: the token itself is shown
    once, when it is made (`manage.py createapitoken`, or the admin's add page).

    A token without an organisation is the provider's and sees every organisation; one with
    an organisation sees what that organisation's staff see (organisations.scoping)."""

    name = models.CharField(
        max_length=100, help_text="What uses it: \u201cbilling\u201d, \u201cPBX\u201d."
    )
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text="Empty: a provider token, which sees every organisation.",
    )
    read_only = models.BooleanField(
        "read-only", default=False, help_text="It may read, never create, change or delete."
    )
    # sha256 of the token, hex: 256 random bits need no slow hash (nothing to guess).
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        max_length=12, editable=False, help_text="The token's first characters, to tell it by."
    )
    # Whom the admin's history names for what the token changed: a user that cannot log in.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_token", editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(
        "expires", null=True, blank=True, help_text="Empty: it does not expire."
    )
    last_used_at = models.DateTimeField("last used", null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField("revoked", null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return self.name

    @property
    def scope(self) -> str:
        return self.organisation.slug if self.organisation_id and self.organisation else "provider"
