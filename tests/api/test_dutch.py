"""The API and its admin in Dutch for a client that asks for it (Accept-Language: nl), in
English without; codes, pointers and field names stay as they are (issue 18, part 6)."""

from __future__ import annotations

import pytest

from api.models import ApiToken
from organisations.staff import create_organisation_staff
from tests.api.conftest import api_client, problem
from tests.api.test_api_attack_findings import send_raw

DUTCH = {"HTTP_ACCEPT_LANGUAGE": "nl"}
LIST = "/admin/api/apitoken/"
ADD = "/admin/api/apitoken/add/"


def test_a_validation_error_in_dutch(api_a):
    response = api_a.get("/api/v1/access-log", {"status_code": "abc"}, **DUTCH)

    assert response.status_code == 400
    assert response["Content-Language"] == "nl"
    assert "Accept-Language" in response["Vary"]
    body = problem(response)
    assert body["code"] == "invalid"
    assert body["detail"] == "Sommige velden zijn niet geldig: zie errors."
    assert body["errors"] == [
        {
            "pointer": "/status_code",
            "code": "invalid",
            "message": "'abc' is geen HTTP-statuscode (100 tot en met 599).",
        }
    ]


def test_a_validation_error_in_english_without_the_header(api_a):
    response = api_a.get("/api/v1/access-log", {"status_code": "abc"})

    body = problem(response)
    assert response["Content-Language"] == "en-gb"
    assert body["detail"] == "Some fields are not valid: see errors."
    assert body["errors"][0]["message"] == "'abc' is not an HTTP status code (100 to 599)."


def test_our_and_drfs_field_messages_in_dutch(provider_api):
    """Ours ("Ten hoogste…", a required organisation) and DRF's own, each in Dutch."""
    body = problem(provider_api.post("/api/v1/devices", {"mac": "805ec0000001"}, **DUTCH))
    assert body["errors"] == [
        {"pointer": "/model", "code": "required", "message": "Dit veld is vereist."}
    ]
    device = {"mac": "805ec0000001", "model": "T54W"}
    body = problem(provider_api.post("/api/v1/devices", device, **DUTCH))
    assert body["errors"] == [
        {"pointer": "/organisation", "code": "required", "message": "Dit veld is vereist."}
    ]
    body = problem(provider_api.post("/api/v1/devices", {**device, "organisation": "x"}, **DUTCH))
    assert body["errors"] == [
        {
            "pointer": "/organisation",
            "code": "does_not_exist",
            "message": "Object met slug=x bestaat niet.",
        }
    ]
    response = provider_api.post("/api/v1/devices/bulk", {"devices": [{}] * 1001}, **DUTCH)
    body = problem(response)
    assert body["code"] == "too_many_devices"
    assert body["detail"].startswith("Ten hoogste 1000 telefoons per verzoek")


@pytest.mark.parametrize(
    ("path", "dutch", "english"),
    [
        ("/api/v1/devices/805ec0999999", "Niet gevonden.", "Not found."),
        (
            "/api/v1/nope",
            "Deze resource bestaat niet: GET /api/v1/schema/ geeft ze allemaal.",
            "No such resource: GET /api/v1/schema/ lists them all.",
        ),
    ],
)
def test_not_found_in_dutch_and_english(api_a, path, dutch, english):
    body = problem(api_a.get(path, **DUTCH))
    assert (body["status"], body["code"], body["detail"]) == (404, "not_found", dutch)
    assert body["title"] == "Not Found"  # the HTTP status's phrase: as RFC 9457 has it

    body = problem(api_a.get(path))
    assert (body["code"], body["detail"]) == ("not_found", english)


def test_authentication_and_permission_errors_in_dutch(client, read_only_api_a):
    body = problem(client.get("/api/v1/organisations", **DUTCH))
    assert body["detail"] == "Stuur een API-token mee: `Authorization: Bearer <token>`."

    body = problem(client.get("/api/v1/organisations", HTTP_AUTHORIZATION="Bearer vc_x", **DUTCH))
    assert (body["code"], body["detail"]) == ("invalid_token", "Dit token bestaat niet.")

    response = read_only_api_a.patch("/api/v1/organisations/alpha", {"name": "x"}, **DUTCH)
    body = problem(response)
    assert body["code"] == "read_only_token"
    assert body["detail"].startswith("Dit token is alleen-lezen")


def test_the_token_admin_in_dutch_for_the_provider(admin_client, tenant_a):
    api_client(None)
    token = ApiToken.objects.get()

    page = admin_client.get(LIST, headers={"accept-language": "nl"}).content.decode()
    assert "API-tokens" in page
    assert "Bereik" in page and "Status" in page  # column headers
    assert "Alleen-lezen" in page  # the filter's title
    assert "Geselecteerde tokens intrekken" in page
    assert "provider (alle organisaties)" in page and "actief" in page

    response = admin_client.post(
        LIST,
        {"action": "revoke", "_selected_action": [str(token.pk)]},
        headers={"accept-language": "nl"},
        follow=True,
    )
    assert "1 token ingetrokken." in response.content.decode()

    page = admin_client.get(LIST).content.decode()
    assert "API tokens" in page and "Revoke the selected tokens" in page


def test_the_token_created_page_in_dutch_for_organisation_staff(client, tenant_a):
    staff = create_organisation_staff(tenant_a.organisation, "alice", "x", validate=False)
    client.force_login(staff)
    form = {"name": "pbx", "read_only": "on", "expires_at_0": "", "expires_at_1": ""}

    page = client.get(ADD, headers={"accept-language": "nl"}).content.decode()
    assert "API-token toevoegen" in page and "Leeg: het verloopt niet." in page

    page = client.post(ADD, form, headers={"accept-language": "nl"}).content.decode()
    assert "Kopieer het nu: het wordt alleen deze keer getoond." in page
    assert f"voor de organisatie {tenant_a.organisation.name}" in page
    assert "Het is alleen-lezen." in page
    assert "Terug naar de API-tokens" in page

    page = client.post(ADD, {**form, "name": "billing"}).content.decode()
    assert "Copy it now: it is shown this once." in page and "It is read-only." in page


def test_a_body_too_large_names_no_setting_the_log_does(api_a, tenant_a, settings, caplog):
    """Part 4: the client reads what to do; the setting's name is in the log only."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"label": "x" * 2000}

    response = api_a.patch(f"/api/v1/devices/{tenant_a.device.mac}", body, **DUTCH)

    problem_body = problem(response)
    assert problem_body["code"] == "body_too_large"
    assert problem_body["detail"] == (
        "Het verzoek is groter dan deze server accepteert: stuur minder items tegelijk."
    )
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" not in response.content.decode()
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in caplog.text


@pytest.mark.parametrize(
    ("body", "dutch", "english"),
    [
        (
            b'{"mac": 1,',
            "De inhoud van het verzoek is geen geldige JSON: regel 1, kolom 11.",
            "The request body is not valid JSON: line 1, column 11.",
        ),
        (
            b'{"label": "\xff"}',
            "De inhoud van het verzoek is geen UTF-8-tekst: stuur JSON in UTF-8.",
            "The request body is not UTF-8 text: send JSON in UTF-8.",
        ),
    ],
    ids=["syntax", "not-utf-8"],
)
def test_a_body_that_is_not_json_reads_what_to_fix_not_pythons_words(api_a, body, dutch, english):
    """DRF's own 'JSON parse error - Expecting property name enclosed in double quotes…' is
    the json module's exception: an organisation's developer reads where, in their language."""
    for headers, expected in ((DUTCH, dutch), ({}, english)):
        response = send_raw(api_a, "POST", "/api/v1/devices", body, **headers)
        assert response.status_code == 400
        detail = problem(response)["detail"]
        assert detail == expected
        assert "Expecting" not in detail and "codec" not in detail


def test_a_broken_multipart_body_reads_what_to_fix(api_a):
    response = send_raw(
        api_a,
        "POST",
        "/api/v1/wallpapers",
        b"--x\r\nnot a part",
        content_type="multipart/form-data",  # no boundary
        **DUTCH,
    )

    assert response.status_code == 400
    detail = problem(response)["detail"]
    assert detail == (
        "De inhoud van het verzoek is geen geldig multipart-formulier: controleer de boundary "
        "en de delen."
    )
    assert "Invalid boundary" not in detail
