"""Every URL is the admin, /healthz, /metrics, the language switch, the REST API or a phone
endpoint: no view reaches phones around the one door that identifies, authenticates and logs
them, and every API view is behind the API's own (Bearer tokens, the scoping registry)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver, path
from django.urls.resolvers import RoutePattern
from django.views.i18n import set_language

from devices.serving import is_phone_endpoint
from voipconfig.views import healthz, metrics

# Views that are not for phones, and why they may be.
NOT_FOR_PHONES = {
    healthz: "load balancers; it reads nothing of a phone",
    metrics: "Prometheus, from allowed addresses or with a token; counts, never a phone's data",
    set_language: "the admin's language switch: POST only, sets a cookie, reads no phone's data",
}
PHONE_FILES = {
    "common-boot",
    "common-config",
    "mac-config",
    "mac-boot",
    "phonebook-xml",
    "phonebook-xml-token",
    "media-file",
    "media-file-token",
    "firmware-file",
    "firmware-file-token",
    "softkey-file",
    "ca-certificate",
}


API = "api/v1/"


def views(resolver: URLResolver) -> Iterator[tuple[str, Callable[..., object]]]:
    """(URL name or route, view) of every URL, but the admin's (Django's own, with its login)
    and the API's (tested below)."""
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace != "admin" and str(pattern.pattern) != API:
                yield from views(pattern)
        elif isinstance(pattern, URLPattern):
            yield pattern.name or str(pattern.pattern), pattern.callback


def strays(resolver: URLResolver) -> list[str]:
    return [
        name
        for name, view in views(resolver)
        if not is_phone_endpoint(view) and view not in NOT_FOR_PHONES
    ]


def test_every_view_outside_the_admin_is_a_phone_endpoint():
    assert strays(get_resolver()) == []


def test_every_api_view_takes_only_bearer_tokens_and_asks_the_registry():
    from api.auth import BearerAuthentication
    from api.permissions import RegistryPermission

    (api,) = [
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and str(p.pattern) == API
    ]
    found = list(_all_views(api))
    # The schema and its viewer: public, no data; any other path: 404 for everyone.
    documents = {"api-schema", "api-docs", "api-no-such-route"}
    assert documents <= {name for name, _ in found}
    for name, view in found:
        if name in documents:
            continue
        cls = view.cls  # type: ignore[attr-defined]  # as_view() sets it
        assert cls.authentication_classes == [BearerAuthentication], name
        assert any(issubclass(p, RegistryPermission) for p in cls.permission_classes), name
    assert len(found) > len(documents)


def _all_views(resolver: URLResolver) -> Iterator[tuple[str, Callable[..., object]]]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _all_views(pattern)
        elif isinstance(pattern, URLPattern):
            yield pattern.name or str(pattern.pattern), pattern.callback


def test_the_walk_reaches_every_phone_file():
    names = {name for name, view in views(get_resolver()) if is_phone_endpoint(view)}

    assert names == PHONE_FILES


@pytest.mark.parametrize("where", ["at the root", "in an included list"])
def test_a_view_around_the_phone_endpoint_is_found(where):
    def plain(request):
        return HttpResponse("a config file, served without checking anyone")

    stray = path("backdoor.cfg", plain, name="backdoor")
    patterns = list(get_resolver().url_patterns)
    if where == "at the root":
        patterns.append(stray)
    else:
        patterns.append(URLResolver(RoutePattern("more/"), [stray]))

    assert strays(URLResolver(RoutePattern(""), patterns)) == ["backdoor"]
