"""When the database is down or overloaded: 503 with Retry-After, never a 500."""

from types import SimpleNamespace

import pytest
from django.db import OperationalError


@pytest.fixture
def database_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1, port 5432 failed")

    # The first database access of each path (the test's own database stays up).
    monkeypatch.setattr("devices.serving.lookup.phones_of_organisation", refuse)
    monkeypatch.setattr("devices.admin.DeviceAdmin.get_queryset", refuse)
    monkeypatch.setattr(
        "voipconfig.views.connection", SimpleNamespace(cursor=refuse, close=lambda: None)
    )


def test_phones_get_503_with_retry_after(client, tenant_a, database_down, settings):
    response = client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers())

    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.RETRY_AFTER_SECONDS)
    assert b"Traceback" not in response.content


def test_admin_pages_get_503_not_a_500(admin_client, tenant_a, database_down):
    response = admin_client.get("/admin/devices/device/")

    assert response.status_code == 503
    assert "Retry-After" in response


def test_healthz_reports_the_database(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body.pop("access_log")["status"] == "ok"  # the writer's own report
    assert body == {
        "status": "ok",
        "database": "ok",
        "redis": "not configured",  # the tests' cache is per process
        "degraded": [],
        "failing": [],
    }
    assert "no-cache" in response["Cache-Control"]


def test_healthz_says_503_when_the_database_is_down(client, db, database_down):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    assert response.json()["failing"] == ["database"]


def test_healthz_tries_a_new_connection_before_saying_the_database_is_down(client, db, monkeypatch):
    from django.db import connection

    tried = []

    def cursor():
        tried.append("cursor")
        if len(tried) == 1:  # a kept connection that died while the database was away
            raise OperationalError("server closed the connection unexpectedly")
        return connection.cursor()

    def close():
        tried.append("closed")

    monkeypatch.setattr("voipconfig.views.connection", SimpleNamespace(cursor=cursor, close=close))

    response = client.get("/healthz")

    assert response.status_code == 200
    assert tried == ["cursor", "closed", "cursor"]
