"""Who is this phone? The one place that identifies, authenticates and logs phone requests.

Every phone-facing view, in every app, is wrapped in `phone_endpoint`:

    request ─► identify ─► authenticate ─► view ─► respond + one access-log row

A request proves it is the phone (docs/architecture.md, "Trust between server and phone"):
- with the phone's own credentials (user name its MAC, a random password), which open only
  that phone's files;
- with its organisation's credentials, as the organisation's policy allows (by default only
  until the phone has used its own): a phone set up by hand gets to its first MAC file;
- for its phonebooks, wallpapers and ringtones, also with the resource token its MAC file
  writes into their URLs.

Outsiders learn nothing from the answers: an unknown MAC and wrong credentials both get the
same 401 challenge, at the same cost, and anything that is not theirs is a 404. Valid
credentials never get a 401 for what is not the phone's fault (an unassigned MAC, a
deactivated phone): a Yealink phone prompts for a password on its screen after a 401. The
access log always says which it was.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial, update_wrapper
from typing import Any, Concatenate, Literal, ParamSpec, cast

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from devices import credentials as own_credentials
from devices.mac import parse_user_agent
from devices.models import AccessLog, Device, FormerDevice
from devices.serving import cache, http_auth, responses, throttle, unassigned
from devices.serving.access_log import Unavailable
from devices.serving.access_log import writer as access_log
from devices.serving.faults import Fault
from devices.serving.request import PhoneHttpRequest, PhoneRequest, Visit, clean_header, client_ip
from organisations.models import Organisation, OrganisationCredentials
from voipconfig import metrics

logger = logging.getLogger(__name__)
# A line per phone request, at DEBUG: VOIPCONFIG_REQUEST_LOG (or LOG_LEVEL=DEBUG) enables it.
request_log = logging.getLogger("voipconfig.requests")
# Every phone request fails the same way while the database is down: logged once, counted.
_unavailable = Fault(logger, "database unavailable")
_refused = Fault(logger, "phones get 503")
Outcome = AccessLog.Outcome
# Outcomes that count towards throttling an address (and, for wrong credentials, a MAC and a
# user name). Not found counts too: guessing the names and ids of files.
FAILURES = {
    Outcome.MAC_UNKNOWN,
    Outcome.WRONG_CREDENTIALS,
    Outcome.WRONG_TOKEN,
    Outcome.BAD_REQUEST,
    Outcome.MAC_MISMATCH,
    Outcome.REPLAYED,
    Outcome.NOT_FOUND,
    Outcome.ORGANISATION_REFUSED,
}
AuthPolicy = Literal["required", "resource", "public"]
P = ParamSpec("P")
PhoneView = Callable[Concatenate[PhoneHttpRequest, P], HttpResponseBase]
View = Callable[Concatenate[HttpRequest, P], HttpResponseBase]
# Refused: the answer, and the outcome to log (None: no row, the first step of a round).
Refusal = tuple[HttpResponseBase, Outcome | None]

_DUMMY_PASSWORD = "not-a-password-" + "x" * 17


def phone_endpoint(
    auth: AuthPolicy = "required", kind: str | None = None
) -> Callable[[PhoneView[P]], View[P]]:
    """Wrap a phone-facing view. A URL kwarg `mac` names the phone the file is for; `kind`
    names its files in the metrics (the view's name by default).

    - required: the phone's credentials (config and boot files);
    - resource: the phone's resource token (a URL kwarg `token`), or its credentials
      (phonebooks, wallpapers, ringtones); the view gets neither `mac` nor `token`;
    - public: anyone (softkey XML, the CA certificate); still logged.

    A 2xx or 304 from the view is logged as a Success, a 404 as Not found.
    """

    def decorator(view: PhoneView[P]) -> View[P]:
        named = kind or view.__name__

        def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
            started = time.perf_counter()
            if request.method not in ("GET", "HEAD"):
                metrics.phone_request(named, "method_not_allowed", time.perf_counter() - started)
                return responses.method_not_allowed()
            try:
                with cache.one_version_per_request():
                    return _serve(request, view, args, kwargs, auth, _AccessLogger(named, started))
            except (OperationalError, InterfaceError) as error:  # before a phone was known
                _unavailable.happened(_describe(request, error), exc_info=True)
                metrics.phone_request(named, Outcome.UNAVAILABLE, time.perf_counter() - started)
                return responses.service_unavailable()

        update_wrapper(wrapper, view)
        wrapper.is_phone_endpoint = True  # type: ignore[attr-defined]  # read by is_phone_endpoint
        # Phones send no CSRF token, and any other method than GET and HEAD is a 405: the
        # CSRF check would answer it 403 first.
        wrapper.csrf_exempt = True  # type: ignore[attr-defined]  # read by CsrfViewMiddleware
        return wrapper

    return decorator


def _describe(request: HttpRequest, error: Exception) -> str:
    return "%s %s from %s (%s): %s" % (  # noqa: UP031 (a log line, built once per fault)
        request.method,
        clean_header(own_credentials.mask_token(request.get_full_path()), 255),
        client_ip(request),
        clean_header(request.headers.get("User-Agent", ""), 255),
        error,
    )


def is_phone_endpoint(view: object) -> bool:
    return getattr(view, "is_phone_endpoint", False) is True


def _serve(
    request: HttpRequest,
    view: Callable[..., HttpResponseBase],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    auth: AuthPolicy,
    log: _AccessLogger,
) -> HttpResponseBase:
    user_agent = parse_user_agent(clean_header(request.headers.get("User-Agent", "")))
    path_mac = kwargs["mac"].lower() if kwargs.get("mac") else None
    token = kwargs.pop("token", None)
    if auth == "resource":
        kwargs.pop("mac", None)  # the view finds the phone in request.phone
    elif path_mac:
        kwargs["mac"] = path_mac
    phone = PhoneRequest(user_agent=user_agent, mac=path_mac or user_agent.mac)
    log.start(request, phone)
    try:
        access_log.check()  # rows cannot be written: refuse before any work
    except Unavailable as refusal:
        return log.unavailable(refusal)
    if _refused.ongoing:
        _refused.ended()
    try:
        if path_mac and user_agent.mac and path_mac != user_agent.mac:
            # A phone never needs another phone's file.
            return log.write(responses.not_found(), Outcome.MAC_MISMATCH)
        response = _answer(request, phone, log, auth, token, partial(view, *args, **kwargs))
    except (OperationalError, InterfaceError) as error:
        # The database is down or overloaded: the phone tries again later.
        return log.unavailable(error)
    if _unavailable.ongoing and response.status_code < 400:  # served: the database is back
        _unavailable.ended()
    return response


def _answer(
    request: HttpRequest,
    phone: PhoneRequest,
    log: _AccessLogger,
    auth: AuthPolicy,
    token: str | None,
    view: Callable[[PhoneHttpRequest], HttpResponseBase],
) -> HttpResponseBase:
    phone.schemes = http_auth.offered_schemes(request.is_secure())
    credentials = None
    if token is None:
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
        if phone.mac is None and own_credentials.looks_like_mac(credentials.username):
            phone.mac = credentials.username  # a phone that said no MAC: its user name does
    if auth == "public":
        refusal = None
    elif token is not None:
        refusal = _check_token(phone, token, log.ip)
    else:
        refusal = _authenticate(request, phone, credentials, log.ip)
    if refusal is not None:
        response, refused = refusal
        return log.write(response, refused) if refused else log.challenged(response)
    phone_request = cast(PhoneHttpRequest, request)
    phone_request.phone = phone
    response = view(phone_request)
    outcome = phone.outcome or _outcome_for(response.status_code)
    if outcome == Outcome.SUCCESS and phone.device is not None and phone.authenticated:
        # Only a request that proved it is the phone says where the phone is and what it
        # runs.
        _remember_visit(phone, log.ip)
    if outcome == Outcome.SUCCESS and phone.used_previous_password:
        outcome = Outcome.SUCCESS_PREVIOUS_PASSWORD
    return log.write(response, outcome)


def _check_token(phone: PhoneRequest, token: str, ip: str | None) -> Refusal | None:
    """A resource URL's token: the phone's, from its current password or the previous one
    in its grace period. A right token is never throttled (128 bits are not guessed)."""
    assert phone.mac is not None  # the URL names it
    device = phone.device = cache.device(phone.mac)
    phone.organisation = device.organisation if device else None
    passwords = device.passwords() if device else [_DUMMY_PASSWORD]
    current = own_credentials.token_matches(token, phone.mac, passwords[:1])
    previous = len(passwords) > 1 and own_credentials.token_matches(token, phone.mac, passwords[1:])
    if previous and not current and device is not None:
        previous = _previous_still_good(device)
        phone.used_previous_password = previous
    if current or previous:
        assert device is not None
        if not (device.is_active and device.organisation.is_active):
            return responses.not_found(), Outcome.INACTIVE
        phone.authenticated = True
        return None
    if throttle.is_throttled(ip, None):
        return responses.too_many_failures(), Outcome.THROTTLED
    return responses.not_found(), Outcome.WRONG_TOKEN if device else Outcome.MAC_UNKNOWN


def _authenticate(
    request: HttpRequest,
    phone: PhoneRequest,
    credentials: http_auth.Credentials | None,
    ip: str | None,
) -> Refusal | None:
    """None when the request may go on; else the answer and the outcome to log."""
    challenge = partial(responses.challenge, schemes=phone.schemes)
    if credentials is None:
        return challenge(), None  # the first step of every round; not an attempt yet
    username, method = credentials.username, str(request.method)
    own = phone.mac is not None and username.lower() == phone.mac
    organisation = None if own else cache.organisation_by_username(username)
    if not own and organisation is None and own_credentials.looks_like_mac(username):
        # Another phone's user name: its credentials open only its own files.
        return responses.not_found(), Outcome.MAC_MISMATCH
    found = phone.device = cache.device(phone.mac) if phone.mac else None
    if organisation is not None and found is not None and found.organisation_id != organisation.pk:
        # Another organisation's phone is none of this one's business. The row goes in this
        # organisation's log (its staff read it, in the admin and the API): as for a MAC
        # nobody has, or the log would tell them another organisation has this MAC.
        phone.device = None
    if not own and throttle.is_throttled(ip, phone.mac, username):
        # A password people chose: over a limit it is not even checked.
        return responses.too_many_failures(), Outcome.THROTTLED
    former = None
    if own:
        phone.organisation = phone.device.organisation if phone.device else None
        former = cache.former_device(username.lower()) if phone.device is None else None
        passwords = [former.provisioning_password] if former else _passwords(phone.device)
        verdict = _check(phone, credentials, username, passwords, method, phone.device)
    else:
        phone.organisation = organisation
        verdict = _check(phone, credentials, username, _passwords(organisation), method, None)
    if verdict is http_auth.Verdict.STALE:
        return challenge(stale=True), Outcome.STALE_NONCE
    if verdict is http_auth.Verdict.REPLAYED:
        # A phone that reused its nonce retries with a fresh one; a replayer learns nothing.
        return challenge(stale=True), Outcome.REPLAYED
    if verdict is http_auth.Verdict.WRONG:
        if own and throttle.is_throttled(ip, phone.mac):
            return responses.too_many_failures(), Outcome.THROTTLED
        known = phone.device is not None if phone.mac else organisation is not None
        return challenge(), Outcome.WRONG_CREDENTIALS if known else Outcome.MAC_UNKNOWN
    if own and former is not None:
        return _admit_former(phone, former, ip)
    if own:
        return _admit_own(phone)
    assert organisation is not None
    return _admit_organisation(phone, organisation, ip, found)


def _passwords(owner: Device | Organisation | None) -> list[str]:
    """The passwords that open: the current one, and the previous one in its grace period.
    Nobody's (an unknown MAC or user name): one that matches nothing, checked all the same,
    so timing does not tell unknown from wrong."""
    return owner.passwords() if owner is not None else [_DUMMY_PASSWORD]


def _check(
    phone: PhoneRequest,
    credentials: http_auth.Credentials,
    username: str,
    passwords: list[str],
    method: str,
    device: Device | None,
) -> http_auth.Verdict:
    """The current password, or the previous one (of `device`, else of the organisation)."""
    verdict = http_auth.check(credentials, username, passwords[0], method)
    if verdict is http_auth.Verdict.WRONG and len(passwords) > 1:
        verdict = http_auth.check(credentials, username, passwords[1], method)
        phone.used_previous_password = verdict is http_auth.Verdict.OK
        if phone.used_previous_password and device and not _previous_still_good(device):
            phone.used_previous_password = False
            verdict = http_auth.Verdict.WRONG
    return verdict


def _previous_still_good(device: Device) -> bool:
    """A phone's previous password opened: is it still good? The phone may have used its
    new one through another process since (which ends the old one's grace, without a new
    config version), so the database is asked; only requests with an old password ask."""
    until = (
        Device.objects.filter(pk=device.pk)
        .values_list("previous_password_valid_until", flat=True)
        .first()
    )
    if until is None:  # done with: this process forgets it too
        device.previous_provisioning_password = ""
        device.previous_password_valid_until = None
    return until is not None and until > timezone.now()


def _admit_own(phone: PhoneRequest) -> Refusal | None:
    """The phone's own credentials were right."""
    device = phone.device
    assert device is not None
    if not (device.is_active and device.organisation.is_active):
        return responses.not_found(), Outcome.INACTIVE
    phone.authenticated = True
    if device.own_credentials_used_at is None:
        # From now on its organisation's credentials no longer open its files.
        phone.remember["own_credentials_used_at"] = timezone.now()
    if device.previous_provisioning_password and not phone.used_previous_password:
        # It has the new password: the old one is done with.
        phone.remember["previous_provisioning_password"] = ""
        phone.remember["previous_password_valid_until"] = None
    return None


def _admit_former(phone: PhoneRequest, former: FormerDevice, ip: str | None) -> Refusal | None:
    """The right credentials of a phone that was deleted: 404, and on its former
    organisation's list of unassigned phones (or enrolled again, if it chose so)."""
    organisation = cache.organisation(former.organisation_id) if former.organisation_id else None
    if organisation is None or not organisation.is_active:
        return responses.not_found(), Outcome.INACTIVE
    phone.organisation = organisation
    if unassigned.seen(organisation, phone, ip):
        phone.device = cache.device(former.mac)  # added again, with these credentials
        if phone.device is not None:
            return _admit_own(phone)
    return responses.not_found(), Outcome.UNASSIGNED


def _admit_organisation(
    phone: PhoneRequest, organisation: Organisation, ip: str | None, device: Device | None
) -> Refusal | None:
    """The organisation's credentials were right: for which phone (`device`: the one that
    has the MAC, whoever's), and does its policy let them open that phone's files?"""
    if not organisation.is_active:
        return responses.not_found(), Outcome.INACTIVE
    policy = organisation.organisation_credentials
    if phone.mac is not None and (device is None or device.organisation_id != organisation.pk):
        phone.device = None  # another organisation's phone is none of this one's business
        if unassigned.seen(organisation, phone, ip, may_enrol=device is None):
            phone.device = cache.device(phone.mac)  # enrolled: served like any other phone
        if phone.device is None:
            return responses.not_found(), Outcome.UNASSIGNED
        device = phone.device
    if device is not None and not device.is_active:
        return responses.not_found(), Outcome.INACTIVE
    if policy == OrganisationCredentials.NEVER or (
        policy == OrganisationCredentials.BOOTSTRAP
        and (_used_own(device) if device is not None else not _still_bootstrapping(organisation))
    ):
        # 401: these credentials are not (or no longer) good for this phone.
        return responses.challenge(schemes=phone.schemes), Outcome.ORGANISATION_REFUSED
    phone.authenticated = True
    return None


def _still_bootstrapping(organisation: Organisation) -> bool:
    """A request with the organisation's credentials that names no phone (no MAC in the file
    name, the User-Agent or the user name): good only while some active phone of the
    organisation has not used its own credentials yet (once all have, nobody needs them)."""
    return Device.objects.filter(
        organisation=organisation, is_active=True, own_credentials_used_at__isnull=True
    ).exists()


def _used_own(device: Device) -> bool:
    """Whether the phone has authenticated with its own credentials. The kept copy may not
    know yet (another process saw it), so the database is asked; only requests with the
    organisation's credentials ask, and those are a phone's first round."""
    if device.own_credentials_used_at is None:
        used = (
            Device.objects.filter(pk=device.pk)
            .values_list("own_credentials_used_at", flat=True)
            .first()
        )
        if used is not None:
            device.own_credentials_used_at = used
    return device.own_credentials_used_at is not None


def _outcome_for(status_code: int) -> Outcome:
    # A 302 is a firmware download handed to the object store (FIRMWARE_DELIVERY=signed-url):
    # served, not a failure that the throttle counts.
    if 200 <= status_code < 300 or status_code in (302, 304):
        return Outcome.SUCCESS
    if status_code == 404:
        return Outcome.NOT_FOUND
    if status_code == 503:
        return Outcome.UNAVAILABLE
    return Outcome.BAD_REQUEST


def _remember_failure(device: Device, now: datetime) -> tuple[int, dict[str, datetime]] | None:
    """Wrong credentials, kept on the phone so its status (failing) never needs a look into
    the access log; like a visit, written at most once per LAST_SEEN_PRECISION_SECONDS."""
    last = device.last_failure_at
    if last and (now - last).total_seconds() < settings.LAST_SEEN_PRECISION_SECONDS:
        return None
    device.last_failure_at = now
    return device.pk, {"last_failure_at": now}


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
    """A request's row in the access log, its counts in the metrics and its line in the
    request log (`request_log`, when enabled)."""

    request: HttpRequest
    phone: PhoneRequest
    ip: str | None

    def __init__(self, kind: str, started: float) -> None:
        self.kind = kind
        self.started = started

    def start(self, request: HttpRequest, phone: PhoneRequest) -> None:
        self.request = request
        self.phone = phone
        self.ip = client_ip(request)

    def write(self, response: HttpResponseBase, outcome: Outcome) -> HttpResponseBase:
        phone = self.phone
        if outcome in FAILURES:
            # A password tried for a MAC counts for that MAC, whether it exists or not, and
            # for the organisation user name it was tried with.
            tried = outcome in (Outcome.WRONG_CREDENTIALS, Outcome.MAC_UNKNOWN) and phone.username
            organisation = phone.organisation
            shared = bool(tried) and organisation is not None
            shared = shared and phone.username == getattr(organisation, "provisioning_username", "")
            throttle.record_failure(
                self.ip, phone.mac if tried else None, phone.username if shared else None
            )
        row = self._row(response, outcome)
        visit: tuple[int, Mapping[str, Any]] | None = None
        if phone.device and phone.visit:
            visit = (phone.device.pk, phone.visit)
        elif outcome == Outcome.WRONG_CREDENTIALS and phone.device:
            visit = _remember_failure(phone.device, row["created_at"])
        access_log.add(row, visit)
        self._measured(response, outcome)
        return response

    def challenged(self, response: HttpResponseBase) -> HttpResponseBase:
        """The 401 that starts a round: no row (not an attempt yet), but counted."""
        self._measured(response, "challenge")
        return response

    def _measured(self, response: HttpResponseBase, outcome: str) -> None:
        seconds = time.perf_counter() - self.started
        metrics.phone_request(self.kind, outcome, seconds)
        if request_log.isEnabledFor(logging.DEBUG):
            self._log_line(response, outcome, seconds)

    def _log_line(self, response: HttpResponseBase, outcome: str, seconds: float) -> None:
        phone, path = self.phone, own_credentials.mask_token(self.request.get_full_path())
        organisation = phone.organisation.slug if phone.organisation else None
        request_log.debug(
            "%s %s %s %s",
            self.request.method,
            clean_header(path, 255),
            response.status_code,
            outcome,
            extra={
                "mac": phone.mac or None,
                "organisation": organisation,
                "kind": self.kind,
                "outcome": str(outcome),
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 2),
                "ip": self.ip,
            },
        )

    def _row(self, response: HttpResponseBase, outcome: Outcome) -> dict[str, Any]:
        phone = self.phone
        return {
            "created_at": timezone.now(),
            "ip": self.ip,
            "user_agent": phone.user_agent.raw[:255],
            "path": clean_header(own_credentials.mask_token(self.request.get_full_path()), 255),
            "mac": phone.mac or "",
            "username": clean_header(phone.username, 64),
            "organisation_id": phone.organisation.pk if phone.organisation else None,
            "device_id": phone.device.pk if phone.device else None,
            "outcome": str(outcome),
            "status_code": response.status_code,
        }

    def unavailable(self, error: Exception) -> HttpResponseBase:
        """503: the database, or the access log, cannot keep up. The row is kept all the same
        (devices.serving.access_log: in the spool until the database takes it)."""
        response = responses.service_unavailable()
        if isinstance(error, Unavailable):
            _refused.happened(str(error))  # the writer says why; its traceback says nothing
        else:
            _unavailable.happened(_describe(self.request, error), exc_info=True)
        access_log.keep(self._row(response, Outcome.UNAVAILABLE))
        self._measured(response, Outcome.UNAVAILABLE)
        return response
