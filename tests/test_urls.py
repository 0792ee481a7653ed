"""Every URL is the admin, /healthz, or a phone endpoint: no view reaches phones around the
one door that identifies, authenticates and logs them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver, path
from django.urls.resolvers import RoutePattern

from devices.serving import is_phone_endpoint
from voipconfig.views import healthz

# Views that are not for phones, and why they may be.
NOT_FOR_PHONES = {
    healthz: "load balancers; it reads nothing of a phone",
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
    "softkey-file",
    "ca-certificate",
}


def views(resolver: URLResolver) -> Iterator[tuple[str, Callable[..., object]]]:
    """(URL name or route, view) of every URL, but the admin's (Django's own, with its login)."""
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace != "admin":
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
