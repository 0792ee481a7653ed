"""Phones only GET (and clients HEAD) their files: any other method is a 405 with Allow, at
every phone URL, even from a client that sends no CSRF token (it got a 403 from the CSRF
check before the phone endpoint could answer)."""

from __future__ import annotations

import pytest
from django.test import Client

from devices.models import AccessLog

URLS = [
    "/y000000000123.cfg",
    "/805ec0aaaa01.cfg",
    "/805ec0aaaa01.boot",
    "/y000000000000.boot",
    "/pb-company-1.xml",
    "/wallpaper.png",
    "/p/805ec0aaaa01/AAAAAAAAAAAAAAAAAAAAAA/wallpaper.png",
    "/xml/_global/idle.xml",
    "/ca.crt",
    "/healthz",  # the load balancer's: no phone URL, but no form either
]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("url", URLS)
def test_a_method_other_than_get_and_head_is_a_405(db, tenant_a, url, method):
    client = Client(enforce_csrf_checks=True)

    response = getattr(client, method)(url, data="x", content_type="text/plain")

    assert response.status_code == 405, (url, response.status_code)
    assert response["Allow"] == "GET, HEAD"
    assert AccessLog.objects.count() == 0  # nothing was tried: nothing to log


def test_get_still_answers(db, tenant_a):
    assert Client(enforce_csrf_checks=True).get("/805ec0aaaa01.cfg").status_code == 401
