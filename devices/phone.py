"""Who is this phone? The one place that identifies, authenticates and logs phone requests.

Every phone-facing view, in every app, is wrapped in `phone_endpoint`:

    request ─► identify ─► authenticate ─► view ─► respond + one access-log row

Outsiders learn nothing from the answers: an unknown MAC and wrong credentials both get the
same 401 challenge, and anything that is not theirs is a 404. The access log always says
which it was.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial, wraps
from typing import Literal

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils import timezone

from devices import config_cache, http_auth, throttle
from devices.access_log import writer as access_log
from devices.fast_lookup import phones_of_organisation
from devices.mac import UserAgent, parse_user_agent
from devices.models import AccessLog, Device
from organisations.models import Organisation

logger = logging.getLogger(__name__)
Outcome = AccessLog.Outcome
# Outcomes that count towards throttling an address (and, for wrong credentials, a MAC).
FAILURES = {
    Outcome.MAC_UNKNOWN,
    Outcome.WRONG_CREDENTIALS,
    Outcome.BAD_REQUEST,
    Outcome.MAC_MISMATCH,
}
AuthPolicy = Literal["required", "optional", "public"]
PhoneView = Callable[..., HttpResponse]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DUMMY_PASSWORD = "not-a-password-" + "x" * 17


@dataclass
class PhoneRequest:
    """What `phone_endpoint` learned about the caller, attached to the request as `.phone`."""

    user_agent: UserAgent
    mac: str | None
    device: Device | None = None
    organisation: Organisation | None = None
    username: str = ""
    used_previous_password: bool = False
    version: str | None = None  # of the shared config cache, when it is on
    # Extra device fields the view wants saved with the last-seen update (same query).
    remember: dict = field(default_factory=dict)
    visit: dict | None = None  # the device fields to write with the access-log row


class ChallengeResponse(HttpResponse):
    """A 401 with each WWW-Authenticate challenge on its own header line.

    Django keeps one value per header name, and simple clients misread two challenges
    folded into one line. The WSGI and ASGI handlers both send `response.items()`, so the
    further challenges are added there.
    """

    status_code = 401

    def __init__(self, challenges: list[str]) -> None:
        super().__init__("Authentication required\n", content_type="text/plain; charset=utf-8")
        self.challenges = challenges
        self["WWW-Authenticate"] = challenges[0]

    def items(self):
        yield from super().items()
        for challenge in self.challenges[1:]:
            yield "WWW-Authenticate", challenge


def challenge(stale: bool = False) -> ChallengeResponse:
    return ChallengeResponse(http_auth.challenges(stale=stale))


def service_unavailable() -> HttpResponse:
    response = HttpResponse(
        "Service temporarily unavailable\n", status=503, content_type="text/plain; charset=utf-8"
    )
    response["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
    return response


def not_found() -> HttpResponse:
    return HttpResponse("Not found\n", status=404, content_type="text/plain; charset=utf-8")


def bad_request() -> HttpResponse:
    return HttpResponse("Bad request\n", status=400, content_type="text/plain; charset=utf-8")


def phone_endpoint(auth: AuthPolicy = "required") -> Callable[[PhoneView], PhoneView]:
    """Wrap a phone-facing view. A URL kwarg `mac` names the phone the file is for.

    - required: credentials of the phone's organisation (config and boot files);
    - optional: a known, active phone; credentials, when sent, must be right (phonebooks);
    - public: anyone (softkey XML, the CA certificate); still logged.

    The view may set `response.access_outcome` (e.g. Outcome.NOT_FOUND); by default a 2xx
    or 304 is a Success.
    """

    def decorator(view: PhoneView) -> PhoneView:
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs) -> HttpResponse:
            if request.method not in ("GET", "HEAD"):
                return HttpResponseNotAllowed(["GET", "HEAD"])
            try:
                with config_cache.one_version_per_request():
                    return _serve(request, view, kwargs, auth)
            except (OperationalError, InterfaceError):
                # The database is down or overloaded: the phone tries again later. The row
                # that could not be written goes to the application log instead.
                logger.warning(
                    "database unavailable: %s %s from %s (%s)",
                    request.method,
                    clean_header(request.get_full_path(), 255),
                    client_ip(request),
                    clean_header(request.headers.get("User-Agent", ""), 255),
                    exc_info=True,
                )
                return service_unavailable()

        wrapper.is_phone_endpoint = True

        return wrapper

    return decorator


def _serve(request: HttpRequest, view: PhoneView, kwargs: dict, auth: AuthPolicy) -> HttpResponse:
    user_agent = parse_user_agent(clean_header(request.headers.get("User-Agent", "")))
    path_mac = kwargs["mac"].lower() if kwargs.get("mac") else None
    if path_mac:
        kwargs["mac"] = path_mac
    phone = PhoneRequest(user_agent=user_agent, mac=path_mac or user_agent.mac)
    log = _AccessLogger(request, phone)
    if path_mac and user_agent.mac and path_mac != user_agent.mac:
        # A phone never needs another phone's file.
        return log.write(not_found(), Outcome.MAC_MISMATCH)
    try:
        credentials = http_auth.parse_authorization(
            request.headers.get("Authorization", ""), settings.PROVISIONING_AUTH_SCHEMES
        )
    except http_auth.MalformedAuthorization:
        return log.write(bad_request(), Outcome.BAD_REQUEST)
    if credentials is not None:
        phone.username = credentials.username
        if not http_auth.uri_matches(credentials, request.get_full_path()):
            return log.write(bad_request(), Outcome.BAD_REQUEST)
    refusal = _authenticate(request, phone, credentials, auth, log.ip)
    if refusal is not None:
        response, outcome = refusal
        return log.write(response, outcome) if outcome else response
    request.phone = phone
    response = view(request, **kwargs)
    outcome = getattr(response, "access_outcome", None) or _outcome_for(response.status_code)
    if outcome == Outcome.SUCCESS and phone.device is not None:
        _remember_visit(phone, log.ip)
    if outcome == Outcome.SUCCESS and phone.used_previous_password:
        outcome = Outcome.SUCCESS_PREVIOUS_PASSWORD
    return log.write(response, outcome)


def _authenticate(
    request: HttpRequest,
    phone: PhoneRequest,
    credentials: http_auth.Credentials | None,
    auth: AuthPolicy,
    ip: str | None,
) -> tuple[HttpResponse, str | None] | None:
    """None when the request may go on; else the answer and the outcome to log (None: no row)."""
    if auth == "public":
        return None
    if credentials is None and auth == "required":
        return challenge(), None  # the first step of every round; not an attempt yet
    _identify(phone, credentials)
    if _must_wait(phone, ip):
        return throttle.throttled_response(), Outcome.THROTTLED
    if not _is_known(phone):
        if credentials is None:
            return not_found(), Outcome.MAC_UNKNOWN
        # Spend the same work as a real check, so timing does not tell unknown from wrong.
        http_auth.check(credentials, "", _DUMMY_PASSWORD, request.method)
        return challenge(), Outcome.MAC_UNKNOWN
    if credentials is None:
        return None
    verdict = _check_credentials(phone, credentials, request.method)
    if verdict is http_auth.Verdict.OK:
        return None
    if verdict is http_auth.Verdict.STALE:
        return challenge(stale=True), Outcome.STALE_NONCE
    return challenge(), Outcome.WRONG_CREDENTIALS


def _must_wait(phone: PhoneRequest, ip: str | None) -> bool:
    """Over a failure limit, and not a device asking from where it last succeeded."""
    device = phone.device
    if device is not None and ip is not None and device.last_seen_ip == ip:
        return False
    return throttle.is_throttled(ip, phone.mac)


def _check_credentials(
    phone: PhoneRequest, credentials: http_auth.Credentials, method: str
) -> http_auth.Verdict:
    """The current password, or the previous one during its grace period after a change."""
    organisation = phone.organisation
    username = organisation.provisioning_username
    verdict = http_auth.check(credentials, username, organisation.provisioning_password, method)
    previous = organisation.previous_password()
    if verdict is http_auth.Verdict.WRONG and previous:
        verdict = http_auth.check(credentials, username, previous, method)
        phone.used_previous_password = verdict is http_auth.Verdict.OK
    return verdict


def _identify(phone: PhoneRequest, credentials: http_auth.Credentials | None) -> None:
    """The device by MAC (with its organisation, one query), or else, for a phone that sent
    no MAC at all, the organisation by provisioning user name."""
    if phone.mac:
        phone.device = config_cache.device(phone.mac, partial(phones_of_organisation, phone.mac))
        phone.version = config_cache.current_version()  # read with the device
        phone.organisation = phone.device.organisation if phone.device else None
    elif credentials is not None:
        phone.organisation = Organisation.objects.filter(
            provisioning_username=credentials.username
        ).first()


def _is_known(phone: PhoneRequest) -> bool:
    if phone.organisation is None or not phone.organisation.is_active:
        return False
    return phone.device.is_active if phone.mac else True


def _outcome_for(status_code: int) -> str:
    if 200 <= status_code < 300 or status_code == 304:
        return Outcome.SUCCESS
    if status_code == 404:
        return Outcome.NOT_FOUND
    return Outcome.BAD_REQUEST


def _remember_visit(phone: PhoneRequest, ip: str | None) -> None:
    """Note what the phone told us, to be written with the access-log row; within
    LAST_SEEN_PRECISION_SECONDS of the last write and with nothing new, skip it (a round is
    several requests within seconds)."""
    device, now = phone.device, timezone.now()
    fields = {
        "last_seen_at": now,
        "last_seen_ip": ip,
        "last_user_agent": phone.user_agent.raw[:255],
        "last_firmware": phone.user_agent.firmware[:32],
        **phone.remember,
    }
    recent = device.last_seen_at and (now - device.last_seen_at).total_seconds() < (
        settings.LAST_SEEN_PRECISION_SECONDS
    )
    unchanged = all(
        getattr(device, name) == value for name, value in fields.items() if name != "last_seen_at"
    )
    if recent and unchanged:
        return
    phone.visit = fields
    for name, value in fields.items():  # the kept copy, so the next request skips the write
        setattr(device, name, value)


def clean_header(value: str, limit: int = 1024) -> str:
    """Header text safe to parse and store: no control characters (PostgreSQL refuses NUL)."""
    return _CONTROL.sub("", value[:limit])


def client_ip(request: HttpRequest) -> str | None:
    """The phone's address; behind TRUSTED_PROXY_HOPS proxies, from X-Forwarded-For."""
    hops = settings.TRUSTED_PROXY_HOPS
    address = request.META.get("REMOTE_ADDR") or None
    if hops:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(address)) if address else None
    except ValueError:
        return None


class _AccessLogger:
    def __init__(self, request: HttpRequest, phone: PhoneRequest) -> None:
        self.request = request
        self.phone = phone
        self.ip = client_ip(request)

    def write(self, response: HttpResponse, outcome: str) -> HttpResponse:
        phone = self.phone
        if outcome in FAILURES:
            # A password tried for a MAC counts for that MAC, whether it exists or not.
            tried = outcome in (Outcome.WRONG_CREDENTIALS, Outcome.MAC_UNKNOWN) and phone.username
            throttle.record_failure(self.ip, phone.mac if tried else None)
        row = {
            "created_at": timezone.now(),
            "ip": self.ip,
            "user_agent": phone.user_agent.raw[:255],
            "path": clean_header(self.request.get_full_path(), 255),
            "mac": phone.mac or "",
            "username": clean_header(phone.username, 64),
            "organisation_id": phone.organisation.pk if phone.organisation else None,
            "device_id": phone.device.pk if phone.device else None,
            "outcome": str(outcome),
            "status_code": response.status_code,
        }
        visit = (phone.device.pk, phone.visit) if phone.visit else None
        access_log.add(row, visit)
        return response
