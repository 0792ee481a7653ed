"""Who is this phone? The one place that identifies, authenticates and logs phone requests.

Every phone-facing view, in every app, is wrapped in `phone_endpoint`:

    request ─► identify ─► authenticate ─► view ─► respond + one access-log row

Outsiders learn nothing from the answers: an unknown MAC and wrong credentials both get the
same 401 challenge, and anything that is not theirs is a 404. The access log always says
which it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial, update_wrapper
from typing import Any, Concatenate, Literal, ParamSpec, cast

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from devices.mac import parse_user_agent
from devices.models import AccessLog
from devices.serving import cache, http_auth, responses, throttle
from devices.serving.access_log import writer as access_log
from devices.serving.request import PhoneHttpRequest, PhoneRequest, Visit, clean_header, client_ip
from organisations.models import Organisation

logger = logging.getLogger(__name__)
Outcome = AccessLog.Outcome
# Outcomes that count towards throttling an address (and, for wrong credentials, a MAC).
FAILURES = {
    Outcome.MAC_UNKNOWN,
    Outcome.WRONG_CREDENTIALS,
    Outcome.BAD_REQUEST,
    Outcome.MAC_MISMATCH,
    Outcome.REPLAYED,
}
AuthPolicy = Literal["required", "optional", "public"]
P = ParamSpec("P")
PhoneView = Callable[Concatenate[PhoneHttpRequest, P], HttpResponseBase]
View = Callable[Concatenate[HttpRequest, P], HttpResponseBase]
# Refused: the answer, and the outcome to log (None: no row, the first step of a round).
Refusal = tuple[HttpResponseBase, Outcome | None]

_DUMMY_PASSWORD = "not-a-password-" + "x" * 17


def phone_endpoint(auth: AuthPolicy = "required") -> Callable[[PhoneView[P]], View[P]]:
    """Wrap a phone-facing view. A URL kwarg `mac` names the phone the file is for.

    - required: credentials of the phone's organisation (config and boot files);
    - optional: a known, active phone; credentials, when sent, must be right (phonebooks);
    - public: anyone (softkey XML, the CA certificate); still logged.

    A 2xx or 304 from the view is logged as a Success, a 404 as Not found.
    """

    def decorator(view: PhoneView[P]) -> View[P]:
        def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
            if request.method not in ("GET", "HEAD"):
                return responses.method_not_allowed()
            try:
                with cache.one_version_per_request():
                    return _serve(request, view, args, kwargs, auth)
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
                return responses.service_unavailable()

        update_wrapper(wrapper, view)
        wrapper.is_phone_endpoint = True  # type: ignore[attr-defined]  # read by is_phone_endpoint
        return wrapper

    return decorator


def is_phone_endpoint(view: object) -> bool:
    return getattr(view, "is_phone_endpoint", False) is True


def _serve(
    request: HttpRequest,
    view: Callable[..., HttpResponseBase],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    auth: AuthPolicy,
) -> HttpResponseBase:
    user_agent = parse_user_agent(clean_header(request.headers.get("User-Agent", "")))
    path_mac = kwargs["mac"].lower() if kwargs.get("mac") else None
    if path_mac:
        kwargs["mac"] = path_mac
    phone = PhoneRequest(user_agent=user_agent, mac=path_mac or user_agent.mac)
    log = _AccessLogger(request, phone)
    if path_mac and user_agent.mac and path_mac != user_agent.mac:
        # A phone never needs another phone's file.
        return log.write(responses.not_found(), Outcome.MAC_MISMATCH)
    phone.schemes = http_auth.offered_schemes(request.is_secure())
    try:
        credentials = http_auth.parse_authorization(
            request.headers.get("Authorization", ""), phone.schemes
        )
    except http_auth.MalformedAuthorization:
        return log.write(responses.bad_request(), Outcome.BAD_REQUEST)
    if credentials is not None:
        phone.username = credentials.username
        if not http_auth.uri_matches(credentials, request.get_full_path()):
            return log.write(responses.bad_request(), Outcome.BAD_REQUEST)
    refusal = _authenticate(request, phone, credentials, auth, log.ip)
    if refusal is not None:
        response, refused = refusal
        return log.write(response, refused) if refused else response
    phone_request = cast(PhoneHttpRequest, request)
    phone_request.phone = phone
    response = view(phone_request, *args, **kwargs)
    outcome = _outcome_for(response.status_code)
    if outcome == Outcome.SUCCESS and phone.device is not None and phone.authenticated:
        # Only a request that proved it is the phone says where the phone is and what it
        # runs (the throttle trusts the address a phone last succeeded from).
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
) -> Refusal | None:
    """None when the request may go on; else the answer and the outcome to log."""
    if auth == "public":
        return None
    challenge = partial(responses.challenge, schemes=phone.schemes)
    if credentials is None and auth == "required":
        return challenge(), None  # the first step of every round; not an attempt yet
    _identify(phone, credentials)
    if _must_wait(phone, ip):
        return responses.too_many_failures(), Outcome.THROTTLED
    if not _is_known(phone):
        if credentials is None:
            return responses.not_found(), Outcome.MAC_UNKNOWN
        # Spend the same work as a real check, so timing does not tell unknown from wrong.
        http_auth.check(credentials, "", _DUMMY_PASSWORD, str(request.method))
        return challenge(), Outcome.MAC_UNKNOWN
    if credentials is None:
        return None
    verdict = _check_credentials(phone, credentials, str(request.method))
    if verdict is http_auth.Verdict.OK:
        phone.authenticated = True
        return None
    if verdict is http_auth.Verdict.STALE:
        return challenge(stale=True), Outcome.STALE_NONCE
    if verdict is http_auth.Verdict.REPLAYED:
        # A phone that reused its nonce retries with a fresh one; a replayer learns nothing.
        return challenge(stale=True), Outcome.REPLAYED
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
    assert organisation is not None  # a known phone's
    username = organisation.provisioning_username
    verdict = http_auth.check(credentials, username, organisation.provisioning_password, method)
    previous = organisation.previous_password()
    if verdict is http_auth.Verdict.WRONG and previous:
        verdict = http_auth.check(credentials, username, previous, method)
        phone.used_previous_password = verdict is http_auth.Verdict.OK
    return verdict


def _identify(phone: PhoneRequest, credentials: http_auth.Credentials | None) -> None:
    """The device by MAC, with its organisation (kept, or one statement), or else, for a
    phone that sent no MAC at all, the organisation by provisioning user name."""
    if phone.mac:
        phone.device = cache.device(phone.mac)
        phone.organisation = phone.device.organisation if phone.device else None
    elif credentials is not None:
        phone.organisation = Organisation.objects.filter(
            provisioning_username=credentials.username
        ).first()


def _is_known(phone: PhoneRequest) -> bool:
    if phone.organisation is None or not phone.organisation.is_active:
        return False
    if not phone.mac:
        return True
    return phone.device is not None and phone.device.is_active


def _outcome_for(status_code: int) -> Outcome:
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
    assert device is not None
    fields: Visit = {
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


class _AccessLogger:
    def __init__(self, request: HttpRequest, phone: PhoneRequest) -> None:
        self.request = request
        self.phone = phone
        self.ip = client_ip(request)

    def write(self, response: HttpResponseBase, outcome: Outcome) -> HttpResponseBase:
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
        visit = (phone.device.pk, phone.visit) if phone.device and phone.visit else None
        access_log.add(row, visit)
        return response
