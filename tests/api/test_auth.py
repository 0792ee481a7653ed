"""Who gets in, and how what is refused is answered: Bearer tokens, revoked and expired ones,
read-only ones, rate limits, and the one error format."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api import tokens
from api.models import ApiToken
from tests.api.conftest import api_client, problem

LIST = "/api/v1/organisations"


def test_without_a_token_the_answer_is_401_with_a_bearer_challenge(db):
    response = Client().get(LIST)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert problem(response)["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "header, code",
    [
        ("Basic YWxwaGE6c2VjcmV0", "not_bearer"),
        ("Bearer", "malformed_authorization"),
        ("Bearer a b", "malformed_authorization"),
        ("Bearer vc_not-a-token-we-made", "invalid_token"),
        ("Bearer \u00e9\u00e9", "invalid_token"),
    ],
)
def test_a_wrong_authorization_header_is_named(db, header, code):
    response = Client().get(LIST, HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert problem(response)["code"] == code


def test_a_revoked_or_expired_token_is_refused(provider_api):
    token = ApiToken.objects.get()
    tokens.revoke(token)
    assert problem(provider_api.get(LIST))["code"] == "token_revoked"

    ApiToken.objects.update(revoked_at=None, expires_at=timezone.now() - timedelta(seconds=1))
    assert problem(provider_api.get(LIST))["code"] == "token_expired"

    ApiToken.objects.update(expires_at=timezone.now() + timedelta(days=1))
    assert provider_api.get(LIST).status_code == 200


def test_last_used_is_written_once_a_minute_not_per_request(provider_api):
    assert provider_api.get(LIST).status_code == 200
    first = ApiToken.objects.get().last_used_at
    assert first is not None

    with CaptureQueriesContext(connection) as queries:
        assert provider_api.get(LIST).status_code == 200
    assert not [q for q in queries if q["sql"].upper().startswith("UPDATE")]
    assert ApiToken.objects.get().last_used_at == first


def test_a_read_only_token_reads_and_cannot_write(tenant_a):
    reader = api_client(None, read_only=True)
    assert reader.get(LIST).status_code == 200

    response = reader.patch(f"{LIST}/{tenant_a.organisation.slug}", {"name": "Taken over"})

    assert response.status_code == 403
    assert problem(response)["code"] == "read_only_token"
    tenant_a.organisation.refresh_from_db()
    assert tenant_a.organisation.name != "Taken over"


def test_the_token_of_a_deactivated_organisation_is_refused(api_a, tenant_a):
    tenant_a.organisation.is_active = False
    tenant_a.organisation.save()

    response = api_a.get(LIST)

    assert response.status_code == 403
    assert problem(response)["code"] == "organisation_inactive"


def test_too_many_requests_are_429_with_retry_after_per_token(settings, tenant_a):
    settings.API_REQUESTS_PER_MINUTE = 3
    busy, other = api_client(None), api_client(None)
    for _ in range(3):
        assert busy.get(LIST).status_code == 200

    refused = busy.get(LIST)

    assert refused.status_code == 429
    assert problem(refused)["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert other.get(LIST).status_code == 200  # counted per token


def test_a_write_counts_more_than_a_read(settings, tenant_a):
    settings.API_REQUESTS_PER_MINUTE = 6
    settings.API_WRITE_WEIGHT = 5
    api = api_client(None)
    assert api.patch(f"{LIST}/{tenant_a.organisation.slug}", {"name": "Alpha"}).status_code in (
        200,
        400,
    )
    assert api.get(LIST).status_code == 200
    assert api.get(LIST).status_code == 429


def test_a_change_is_in_the_admins_history_under_the_tokens_name(provider_api, tenant_a):
    token = ApiToken.objects.get()
    slug = tenant_a.organisation.slug

    response = provider_api.patch(f"{LIST}/{slug}", {"name": "Alpha renamed"})

    assert response.status_code == 200, response.content
    entry = LogEntry.objects.get(object_id=str(tenant_a.organisation.pk))
    assert entry.action_flag == CHANGE
    assert entry.user == token.user
    assert token.name in entry.get_change_message()
    assert "name" in entry.get_change_message()


def test_every_error_is_a_problem_document(provider_api):
    for response in (
        provider_api.get(f"{LIST}/no-such-organisation"),
        provider_api.send("POST", LIST, None),  # no body
        provider_api.client.post(
            LIST,
            "<xml/>",
            content_type="application/xml",
            HTTP_AUTHORIZATION=f"Bearer {provider_api.token}",
        ),
        provider_api.send("PUT", LIST, {}),
    ):
        body = problem(response)
        assert body["status"] >= 400 and body["code"], body


def test_a_field_error_points_into_the_body(provider_api):
    response = provider_api.post(LIST, {"name": "", "slug": "x y"})

    body = problem(response)
    assert response.status_code == 400 and body["code"] == "invalid"
    assert {"/name", "/slug"} <= {error["pointer"] for error in body["errors"]}


def test_an_api_client_never_gets_a_session_or_csrf_check(provider_api):
    response = provider_api.get(LIST)

    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies


def test_the_schema_and_the_docs_are_served_without_a_cdn(client, db):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"

    docs = client.get("/api/v1/docs/")
    page = docs.content.decode()
    assert docs.status_code == 200
    assert "swagger-ui" in page
    assert "cdn" not in page.lower() and "https://" not in page
    from django.contrib.staticfiles import finders

    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_a_path_no_resource_has_is_a_problem_404_for_anyone(db, method):
    for path in (
        "/api/v1/nothing-here",
        "/api/v1/organisations/%C2%84",
        "/api/v1/devices/",
        "/api/v1/a%0Ab",
    ):
        response = getattr(Client(), method)(path)

        assert response.status_code == 404, path
        assert problem(response)["code"] == "not_found"


def test_options_is_not_a_method_of_the_api(provider_api, tenant_a):
    response = provider_api.client.options(
        "/api/v1/organisations", HTTP_AUTHORIZATION=f"Bearer {provider_api.token}"
    )

    assert response.status_code == 405
    assert problem(response)["code"] == "method_not_allowed"


def test_a_nul_anywhere_in_a_body_is_a_400_that_says_where(api_a, tenant_a):
    """PostgreSQL holds no NUL in text: a lookup with one (a key profile's name, an
    organisation's slug) was a database error, a 500."""
    mac = tenant_a.device.mac
    for body, where in (
        ({"key_profile": "a\x00b"}, "/key_profile"),
        ({"sip_accounts": [{"line": 1, "label": "x\x00"}]}, "/sip_accounts/0/label"),
        ({"organisation": "alpha\x00"}, "/organisation"),
    ):
        response = api_a.patch(f"/api/v1/devices/{mac}", body)

        assert response.status_code == 400, response.content
        assert problem(response)["code"] == "nul_character"
        assert where in problem(response)["detail"]


def test_a_fault_under_the_api_is_a_problem_document_too(provider_api, monkeypatch):
    from api.resources.organisations import OrganisationViewSet

    def broken(*args, **kwargs):
        raise RuntimeError("a fault")

    monkeypatch.setattr(OrganisationViewSet, "list", broken)
    provider_api.client.raise_request_exception = False

    response = provider_api.get(LIST)

    assert response.status_code == 500
    assert problem(response)["code"] == "server_error"
    assert "a fault" not in response.content.decode()


def test_a_unique_row_written_meanwhile_is_a_409_and_nothing_of_the_request(
    provider_api, tenant_a, monkeypatch
):
    """Validation and the write are one transaction; a phone with the same MAC that another
    request adds between the two (here: in the check itself) is a conflict, not a 500."""
    from devices.models import Device

    checked = Device.full_clean

    def meanwhile(self, *args, **kwargs):
        checked(self, *args, **kwargs)
        Device.objects.bulk_create(
            [
                Device(
                    organisation=tenant_a.organisation,
                    mac="805ec0c0ffee",
                    model="T46U",
                    label="theirs",
                )
            ]
        )

    monkeypatch.setattr(Device, "full_clean", meanwhile)
    before = Device.objects.count()

    response = provider_api.post(
        "/api/v1/devices",
        {
            "organisation": tenant_a.organisation.slug,
            "mac": "805ec0c0ffee",
            "model": "T46U",
            "label": "mine",
        },
    )

    assert response.status_code == 409, response.content
    assert problem(response)["code"] == "conflict"
    assert Device.objects.count() == before + 1  # the other request's phone, not this one
    assert Device.objects.get(mac="805ec0c0ffee").label == "theirs"


def test_the_history_names_what_changed_not_what_was_sent(provider_api, tenant_a):
    organisation = tenant_a.organisation
    path = f"{LIST}/{organisation.slug}"

    assert provider_api.patch(path, {"name": organisation.name}).status_code == 200
    assert (
        provider_api.patch(path, {"name": "Alpha BV", "ntp_server": "pool.ntp.org"}).status_code
        == 200
    )

    unchanged, renamed = LogEntry.objects.filter(object_id=str(organisation.pk)).order_by("pk")
    assert unchanged.get_change_message().startswith("Saved unchanged")
    assert renamed.get_change_message().startswith("Changed name through the API")
