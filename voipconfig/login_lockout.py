"""What a locked-out admin login sees: the login page again, saying why and for how long.

django-axes counts the wrong passwords (settings: LOGIN_FAILURE_LIMIT, LOGIN_LOCKOUT_MINUTES)
and, once a user name and address are locked out, calls `lockout_response` instead of showing
the login form's usual "wrong password". The provider unlocks in the admin (voipconfig/admin.py).
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext, ngettext

from devices.serving import client_ip


def lockout_address(request: HttpRequest) -> str | None:
    """The address failures are counted for, as the phone throttle counts it: IPv4 as it is,
    IPv6 by its /64 (one host usually has the whole network to pick addresses from)."""
    address = client_ip(request)
    if address is None or ":" not in address:
        return address
    return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)


def lockout_message() -> str:
    minutes = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    return ngettext(
        "Too many failed logins: try again in %(minutes)d minute, "
        "or ask your provider to unlock the account.",
        "Too many failed logins: try again in %(minutes)d minutes, "
        "or ask your provider to unlock the account.",
        minutes,
    ) % {"minutes": minutes}


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the admin's login page with the message, status 429."""
    username = request.POST.get("username", "")
    context = {
        **admin.site.each_context(request),
        "title": gettext("Log in"),
        "subtitle": None,
        "app_path": request.get_full_path(),
        "form": AdminAuthenticationForm(request, initial={"username": username}),
        REDIRECT_FIELD_NAME: request.POST.get(REDIRECT_FIELD_NAME) or reverse("admin:index"),
        "lockout_message": lockout_message(),
    }
    return render(request, "admin/login_locked_out.html", context, status=429)
