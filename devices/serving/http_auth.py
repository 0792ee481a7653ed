"""HTTP Basic and Digest (RFC 7616, MD5, qop=auth) for phones: parsing, nonces, checking.

Nonces are stateless: a timestamp signed with a key derived from SECRET_KEY, so any number
of app servers accept each other's nonces and nothing is stored per challenge. A nonce may be
replayed within its lifetime (DIGEST_NONCE_TTL_SECONDS); what it protects is a config file
download the eavesdropper already saw.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import BaseCache
from django.utils.crypto import salted_hmac

from devices.serving import keys, shared

logger = logging.getLogger(__name__)

_PARAM = re.compile(r'\s*([A-Za-z][\w-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')
_HEX_TOKEN = re.compile(r"^[0-9a-fA-F]{1,64}$")
MAX_HEADER_LENGTH = 4096


class MalformedAuthorization(ValueError):
    """The Authorization header cannot be understood: the answer is 400, not 401."""


class Verdict(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    STALE = "stale"  # right answer to an expired or unknown nonce: challenge again, stale=true
    REPLAYED = "replayed"  # right answer, but its (nonce, nc) was used already


@dataclass(frozen=True)
class BasicCredentials:
    username: str
    password: str


@dataclass(frozen=True)
class DigestCredentials:
    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    qop: str = ""
    nc: str = ""
    cnonce: str = ""


Credentials = BasicCredentials | DigestCredentials


def parse_authorization(header: str, schemes: list[str]) -> Credentials | None:
    """None when there is no header; MalformedAuthorization when it is unusable."""
    if not header:
        return None
    if len(header) > MAX_HEADER_LENGTH:
        raise MalformedAuthorization("Authorization header too long")
    scheme, _, rest = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme not in schemes:
        raise MalformedAuthorization(f"scheme {scheme[:20]!r} not offered")
    if scheme == "basic":
        return _parse_basic(rest.strip())
    return _parse_digest(rest)


def _parse_basic(token: str) -> BasicCredentials:
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedAuthorization("Basic credentials are not base64") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    username, sep, password = text.partition(":")
    if not sep:
        raise MalformedAuthorization("Basic credentials without ':'")
    return BasicCredentials(username, password)


def _parse_digest(rest: str) -> DigestCredentials:
    params = _parse_params(rest)
    missing = {"username", "realm", "nonce", "uri", "response"} - params.keys()
    if missing:
        raise MalformedAuthorization(f"Digest without {', '.join(sorted(missing))}")
    algorithm = params.get("algorithm", "MD5")
    if algorithm.upper() != "MD5":
        raise MalformedAuthorization(f"Digest algorithm {algorithm[:20]!r} not offered")
    qop = params.get("qop", "")
    # RFC 2069 (no qop) has no nonce count: a captured answer could be replayed at will.
    if qop != "auth" or "nc" not in params or "cnonce" not in params:
        raise MalformedAuthorization("Digest qop must be auth, with nc and cnonce")
    if not _NONCE_COUNT.match(params["nc"]):
        raise MalformedAuthorization("Digest nc is not 8 hexadecimal digits")
    if not _HEX_TOKEN.match(params["response"]):
        raise MalformedAuthorization("Digest response is not hexadecimal")
    return DigestCredentials(
        username=params["username"],
        realm=params["realm"],
        nonce=params["nonce"],
        uri=params["uri"],
        response=params["response"].lower(),
        qop=qop,
        nc=params.get("nc", ""),
        cnonce=params.get("cnonce", ""),
    )


_NONCE_COUNT = re.compile(r"^[0-9a-fA-F]{8}$")


def _parse_params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    position = 0
    text = text.strip()
    while position < len(text):
        match = _PARAM.match(text, position)
        if not match or match.end() == position:
            raise MalformedAuthorization("Digest parameters cannot be parsed")
        name, value = match.group(1).lower(), match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name] = value
        position = match.end()
    return params


def uri_matches(credentials: Credentials, request_uri: str) -> bool:
    """A Digest answer is only good for the URI it was computed for (RFC 7616 3.4.6)."""
    if isinstance(credentials, BasicCredentials):
        return True
    if credentials.uri == request_uri:
        return True
    try:
        parts = urlsplit(credentials.uri)
    except ValueError:  # e.g. "http://[x/…": not a URI at all
        return False
    return bool(parts.scheme) and (parts.path + (f"?{parts.query}" if parts.query else "")) == (
        request_uri
    )


def check(credentials: Credentials, username: str, password: str, method: str) -> Verdict:
    """Compare in constant time with the organisation's credentials."""
    if isinstance(credentials, BasicCredentials):
        same_user = _same(credentials.username, username)
        same_password = _same(credentials.password, password)
        return Verdict.OK if same_user and same_password else Verdict.WRONG
    return _check_digest(credentials, username, password, method)


def _check_digest(creds: DigestCredentials, username: str, password: str, method: str) -> Verdict:
    realm = settings.PROVISIONING_REALM
    ha1 = _md5(f"{username}:{realm}:{password}")
    ha2 = _md5(f"{method}:{creds.uri}")
    if creds.qop:
        expected = _md5(f"{ha1}:{creds.nonce}:{creds.nc}:{creds.cnonce}:{creds.qop}:{ha2}")
    else:
        expected = _md5(f"{ha1}:{creds.nonce}:{ha2}")
    right = _same(creds.username, username) & _same(creds.realm, realm)
    right &= _same(creds.response, expected)
    if not right:
        return Verdict.WRONG
    age = nonce_age(creds.nonce)
    # The right answer to a nonce that expired or that we cannot verify (issued before a
    # SECRET_KEY rotation, say): challenge again with stale=true, so the phone retries with
    # a fresh nonce instead of prompting for a password.
    if age is None or age > settings.DIGEST_NONCE_TTL_SECONDS:
        return Verdict.STALE
    if not first_use(creds.nonce, int(creds.nc, 16)):
        return Verdict.REPLAYED
    return Verdict.OK


def first_use(nonce: str, nc: int) -> bool:
    """nc is above any nc answered with this nonce, in the shared cache, so across app
    servers: then each (nonce, nc) answer is taken once. With Redis one atomic round trip
    (`RedisCache.rise`); another cache reads, then writes. The shared cache away: checked
    in this process (`shared.local_rise`), so a replay to the same process is still refused
    and one to another is bounded by the nonce's age."""
    key, ttl = keys.DIGEST_NC(nonce), settings.DIGEST_NONCE_TTL_SECONDS + 60
    cache = shared.get(settings.THROTTLE_CACHE)
    if cache is not None:
        try:
            return _rise(cache, key, nc, ttl)
        except Exception as error:
            shared.failed(cache, "Digest replay check", error)
    return shared.local_rise(key, nc, ttl)


def _rise(cache: BaseCache, key: str, nc: int, ttl: int) -> bool:
    rise = getattr(cache, "rise", None)
    if rise is not None:
        return bool(rise(key, nc, ttl))
    if nc <= cache.get(key, 0):
        return False
    cache.set(key, nc, timeout=ttl)
    return True


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def make_nonce(now: float | None = None) -> str:
    """`<issued, hex seconds>-<random>.<signature>`: each challenge its own nonce (an answer
    is taken once per (nonce, nc), and a phone answers every fresh challenge with nc 1)."""
    stamp = f"{int(now if now is not None else time.time()):x}-{secrets.token_hex(8)}"
    return f"{stamp}.{_nonce_signature(stamp)}"


def nonce_age(nonce: str, now: float | None = None) -> float | None:
    """Seconds since we issued this nonce, or None when we never did."""
    stamp, _, signature = nonce.partition(".")
    if not stamp or len(stamp) > 40:
        return None
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]  # a rotated key still counts
    if not any(
        hmac.compare_digest(signature.encode(), _nonce_signature(stamp, key).encode())
        for key in keys
    ):
        return None
    try:
        issued = int(stamp.partition("-")[0], 16)
    except ValueError:
        return None
    age = (now if now is not None else time.time()) - issued
    return age if age >= -60 else None


def _nonce_signature(stamp: str, secret: str | None = None) -> str:
    digest = salted_hmac(
        "voipconfig.digest-nonce",
        f"{stamp}:{settings.PROVISIONING_REALM}",
        secret=secret,
        algorithm="sha256",
    ).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def offered_schemes(secure: bool) -> list[str]:
    """The schemes this request may use: Basic sends the password in clear, so on plain
    HTTP only where PROVISIONING_ALLOW_BASIC_OVER_HTTP says (phones inside customer
    networks)."""
    schemes = settings.PROVISIONING_AUTH_SCHEMES
    if secure or settings.PROVISIONING_ALLOW_BASIC_OVER_HTTP:
        return list(schemes)
    return [scheme for scheme in schemes if scheme != "basic"]


def challenges(stale: bool = False, schemes: list[str] | None = None) -> list[str]:
    """One WWW-Authenticate value per offered scheme, each to go on its own header line."""
    realm = settings.PROVISIONING_REALM
    values = []
    for scheme in settings.PROVISIONING_AUTH_SCHEMES if schemes is None else schemes:
        if scheme == "digest":
            value = f'Digest realm="{realm}", qop="auth", algorithm=MD5, nonce="{make_nonce()}"'
            values.append(value + (", stale=true" if stale else ""))
        else:
            values.append(f'Basic realm="{realm}", charset="UTF-8"')
    return values
