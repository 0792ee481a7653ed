"""Tokens in the admin: created (shown once), listed, revoked; organisation staff manage
their own organisation's only."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.contrib.admin.models import LogEntry

from api.models import ApiToken
from organisations.staff import create_organisation_staff
from tests.api.conftest import Api, api_client

ADD = "/admin/api/apitoken/add/"
LIST = "/admin/api/apitoken/"


def shown_token(response) -> str:
    match = re.search(r'<code id="api-token"[^>]*>(vc_[^<]+)</code>', response.content.decode())
    assert match, response.content.decode()[:2000]
    return match[1]


def test_provider_staff_create_a_token_and_see_it_once(admin_client, tenant_a):
    response = admin_client.post(
        ADD,
        {"name": "billing", "organisation": "", "expires_at_0": "", "expires_at_1": ""},
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    text = shown_token(response)
    token = ApiToken.objects.get()
    assert token.key_hash == hashlib.sha256(text.encode()).hexdigest()
    assert token.organisation is None and token.created_by is not None
    assert Api(text, admin_client.__class__()).get("/api/v1/organisations").status_code == 200

    listed = admin_client.get(LIST).content.decode()
    assert "billing" in listed and token.prefix in listed and text not in listed
    assert text not in admin_client.get(f"{LIST}{token.pk}/change/").content.decode()


def test_revoking_in_the_admin_stops_the_token(admin_client, tenant_a):
    api = api_client(tenant_a.organisation)
    token = ApiToken.objects.get()

    response = admin_client.post(
        LIST, {"action": "revoke", "_selected_action": [str(token.pk)]}, follow=True
    )

    assert "1 token revoked." in response.content.decode()
    assert api.get("/api/v1/organisations").status_code == 401
    assert LogEntry.objects.filter(object_id=str(token.pk), change_message="Revoked.").exists()
    assert "revoked" in admin_client.get(LIST).content.decode()


@pytest.fixture
def staff_client(client, tenant_a):
    staff = create_organisation_staff(tenant_a.organisation, "alice", "x", validate=False)
    client.force_login(staff)
    return client


def test_organisation_staff_make_tokens_of_their_organisation_only(
    staff_client, tenant_a, tenant_b
):
    api_client(tenant_b.organisation)  # beta's: alice must not see it
    api_client(None)  # the provider's: nor this

    response = staff_client.post(
        ADD,
        {
            "name": "our pbx",
            "organisation": str(tenant_b.organisation.pk),  # tampered: ignored
            "read_only": "on",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )

    text = shown_token(response)
    token = ApiToken.objects.get(name="our pbx")
    assert token.organisation == tenant_a.organisation and token.read_only
    listed = staff_client.get(LIST).content.decode()
    assert "our pbx" in listed
    assert "test beta" not in listed and "test provider" not in listed
    body = Api(text, staff_client.__class__()).get("/api/v1/organisations").content.decode()
    assert tenant_b.organisation.slug not in body


def test_a_token_cannot_be_deleted_only_revoked(admin_client, tenant_a):
    api_client(None)
    token = ApiToken.objects.get()

    assert admin_client.get(f"{LIST}{token.pk}/delete/").status_code == 403
