"""API clients: real Bearer tokens made the way an operator makes them, sent over Django's
test client (the whole stack: middleware, DRF's authentication, throttles, errors)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from api import tokens
from organisations.models import Organisation
from tests.rps.conftest import fake_rps  # noqa: F401 - the RPS tests' fake, for rps-sync


@dataclass
class Api:
    """A client holding one token."""

    token: str
    client: Client

    def _headers(self, headers: dict[str, str] | None) -> dict[str, Any]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}", **(headers or {})}

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: str) -> Any:
        return self.client.get(path, params or {}, **self._headers(headers))

    def delete(self, path: str, **headers: str) -> Any:
        return self.client.delete(path, **self._headers(headers))

    def send(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        """POST, PUT or PATCH a JSON body."""
        call = getattr(self.client, method.lower())
        return call(
            path,
            data=json.dumps(body) if body is not None else "",
            content_type="application/json",
            **self._headers(headers),
        )

    def post(self, path: str, body: Any = None, **headers: str) -> Any:
        return self.send("POST", path, body, **headers)

    def put(self, path: str, body: Any = None, **headers: str) -> Any:
        return self.send("PUT", path, body, **headers)

    def patch(self, path: str, body: Any = None, **headers: str) -> Any:
        return self.send("PATCH", path, body, **headers)

    def upload(self, path: str, data: dict[str, Any], method: str = "post") -> Any:
        """A multipart/form-data request (files as open files or SimpleUploadedFile)."""
        return getattr(self.client, method)(path, data, **self._headers(None))


def api_client(organisation: Organisation | None, *, read_only: bool = False) -> Api:
    _, text = tokens.issue(
        f"test {organisation.slug if organisation else 'provider'}",
        organisation,
        read_only=read_only,
    )
    return Api(text, Client())


@pytest.fixture
def provider_api(db) -> Api:
    return api_client(None)


@pytest.fixture
def api_a(tenant_a) -> Api:
    return api_client(tenant_a.organisation)


@pytest.fixture
def api_b(tenant_b) -> Api:
    return api_client(tenant_b.organisation)


@pytest.fixture
def read_only_api_a(tenant_a) -> Api:
    return api_client(tenant_a.organisation, read_only=True)


def problem(response: Any) -> dict[str, Any]:
    """The problem-details body of an error answer, checked for its form."""
    assert response["Content-Type"].startswith("application/problem+json"), response.content
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= body.keys(), body
    assert body["status"] == response.status_code
    return body


def pointers(response: Any) -> dict[str, str]:
    """pointer → code of a 400's field errors."""
    return {error["pointer"]: error["code"] for error in problem(response)["errors"]}
