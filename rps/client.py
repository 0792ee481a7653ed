"""The one thin client of the Yealink RPS management API (yealink.md §6).

`sign()` is the signature as a pure function; `RpsClient` has one method per API call and
raises `RpsError(key, message, status)` for every failure, whether RPS refused the call
(`ret` < 0 or an HTTP status >= 300) or it never got an answer. The messages are for the
provider (the command's output, the log); organisation staff read `rps.wording` instead.

Retries are our own loop rather than `urllib3.util.Retry`: every attempt must be signed again
with a fresh nonce and timestamp (RPS refuses a reused nonce), which a transport-level retry
that resends the same headers cannot do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import requests
from django.conf import settings
from django.utils.translation import npgettext, pgettext

logger = logging.getLogger("rps")
T = TypeVar("T")

API = "/api/open/v1/"
MAX_BATCH = 100  # MACs per device call: yealink.md says keep batches at 100 or fewer
PAGE_SIZE = 100
CONTENT_TYPE = "application/json;charset=UTF-8"

# The defaults of a client made by hand; `client_from_settings` uses the RPS_* settings.
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_RETRIES = 4
DEFAULT_BACKOFF = 0.5
DEFAULT_BACKOFF_MAX = 30.0

# Keys that say the request was not ours to make: our key or signature, not the request.
_AUTH_KEY_WORDS = ("signature", "accesskey", "access.key", "nonce", "timestamp", "unauthor")
# Our own keys for a call that got no HTTP answer at all.
NO_ANSWER_KEYS = ("timeout", "connection")
# A call that timed out is tried once more, not RPS_RETRIES times: each try costs the whole
# timeout, and an RPS that let two go unanswered is not answering now.
TIMEOUT_RETRIES = 1


class RpsConfigError(Exception):
    """RPS is not configured; raised before any call is made. `str()` says what is missing
    in English (the command, the log); `for_provider()` in the provider's language."""

    def __init__(self, message: str, missing: list[str], url: str = "") -> None:
        super().__init__(message)
        self.missing, self.url = missing, url

    def for_provider(self) -> str:
        if self.missing:
            return npgettext(
                "provider",
                "%(settings)s must be set (see .env.example); nothing was sent to RPS.",
                "%(settings)s must be set (see .env.example); nothing was sent to RPS.",
                len(self.missing),
            ) % {"settings": ", ".join(self.missing)}
        return pgettext("provider", "RPS_API_URL must be an http(s) URL, not %(url)s.") % {
            "url": repr(self.url)
        }


class RpsError(Exception):
    """A failed RPS call: `key` is RPS's error key (or our own for transport failures)."""

    def __init__(self, key: str, message: str = "", status: int | None = None) -> None:
        self.key = key
        self.message = message or key
        self.status = status
        self.call = ""  # "POST device/add"; these three are set by the client when it gives up
        self.attempts = 1
        self.seconds = 0.0
        super().__init__(key)

    def __str__(self) -> str:
        shown = self.key in self.message or self.key in NO_ANSWER_KEYS
        text = self.message if shown else f"{self.message} [{self.key}]"
        # A refusal with `ret` < 0 comes with HTTP 200, which says nothing worth showing.
        if self.status and self.status >= 300:
            text = f"{text} (HTTP {self.status})"
        if self.attempts > 1:
            text = f"{text}; {self.attempts} attempts in {self.seconds:.1f} s"
        return text

    def gave_up(self, call: str, attempts: int, started: float) -> RpsError:
        self.call, self.attempts, self.seconds = call, attempts, time.monotonic() - started
        return self

    @property
    def retryable(self) -> bool:
        """Worth another try later: no answer, rate limited or a server error."""
        if self.status is None:
            return self.key in NO_ANSWER_KEYS
        return self.status == 429 or self.status >= 500

    @property
    def stops_run(self) -> bool:
        """Nothing more can succeed now: RPS is not answering (after the client's retries)
        or refused our key or signature. A refusal of one phone or server is not that."""
        return self.retryable or self.is_auth

    @property
    def is_auth(self) -> bool:
        """Our access key or signature was refused: every other call would fail the same way."""
        if any(word in self.key.lower() for word in _AUTH_KEY_WORDS):
            return True
        # A 403 about one device or server (device.operate.forbidden) is not about our key.
        return self.status in (401, 403) and not self.key.startswith(("device.", "server."))


def string_to_sign(
    method: str,
    path: str,
    query: Mapping[str, str] | None,
    content_md5: str,
    key_id: str,
    nonce: str,
    timestamp: str,
) -> str:
    """The lines of §6 joined by newlines; `content_md5` is "" when there is no body."""
    lines = [method.upper()]
    if content_md5:
        lines.append(f"Content-MD5:{content_md5}")
    lines += [f"X-Ca-Key:{key_id}", f"X-Ca-Nonce:{nonce}", f"X-Ca-Timestamp:{timestamp}"]
    lines.append(path.lstrip("/"))
    if query:
        lines.append("&".join(f"{k}={query[k]}" for k in sorted(query)))
    return "\n".join(lines)


def content_md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def sign(
    method: str,
    path: str,
    query: Mapping[str, str] | None,
    body_bytes: bytes,
    key_id: str,
    secret: str,
    nonce: str,
    timestamp: int,
) -> dict[str, str]:
    """The headers of one signed request; `body_bytes` must be exactly the bytes sent."""
    md5 = content_md5(body_bytes) if body_bytes else ""
    text = string_to_sign(method, path, query, md5, key_id, nonce, str(timestamp))
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()
    headers = {
        "Content-Type": CONTENT_TYPE,
        "X-Ca-Key": key_id,
        "X-Ca-Nonce": nonce,
        "X-Ca-Timestamp": str(timestamp),
        "X-Ca-Signature": base64.b64encode(digest).decode(),
    }
    if md5:
        headers["Content-MD5"] = md5
    return headers


@dataclass(frozen=True)
class RemoteServer:
    id: str
    name: str
    url: str = ""
    auth_name: str = ""
    certificate_url: str = ""


@dataclass(frozen=True)
class RemoteDevice:
    """A device as device/list shows it; `None` when the listing does not carry the field
    (yealink.md does not say whether it does), which is not the same as empty."""

    id: str
    mac: str
    server_id: str
    unique_server_url: str | None = None
    auth_name: str | None = None


class RpsClient:
    """One method per RPS call. Counts the calls it makes (`calls`, `write_calls`)."""

    def __init__(
        self,
        base_url: str,
        key_id: str,
        secret: str,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
        call_seconds: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`call_seconds`: at most this long for one call with its retries (the admin runs
        the sync in a request, which must end before the web server's timeout)."""
        self.base_url = base_url.rstrip("/")
        self.key_id = key_id
        self.secret = secret
        self.timeout = (connect_timeout, read_timeout)
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.call_seconds = call_seconds
        self.sleep = sleep
        self.session = requests.Session()
        self.calls = 0
        self.write_calls = 0

    # --- servers ------------------------------------------------------------------------

    def add_server(self, fields: Mapping[str, str]) -> str:
        data = self.post("server/add", dict(fields), write=True)
        return _id_of(data)

    def edit_server(self, server_id: str, fields: Mapping[str, str]) -> None:
        self.post("server/edit", {"id": server_id, **fields}, write=True)

    def list_servers(
        self, key: str = "", skip: int = 0, limit: int = PAGE_SIZE
    ) -> tuple[list[RemoteServer], int | None]:
        data = self.post("server/list", _page(key, skip, limit))
        return [_server(item) for item in _items(data)], _total(data)

    def iter_servers(self, key: str = "") -> Iterator[RemoteServer]:
        yield from _paginate(lambda skip: self.list_servers(key, skip))

    def delete_servers(self, ids: list[str]) -> None:
        self.post("server/delete", {"ids": ids}, write=True)

    # --- devices ------------------------------------------------------------------------

    def add_devices(
        self, macs: list[str], server_id: str, fields: Mapping[str, str], remark: str = ""
    ) -> dict[str, str]:
        """Registers the MACs to the server, all with the same `fields` (uniqueServerUrl,
        authName, password: one set per call); returns the RPS ids it tells us, by MAC."""
        _check_batch(macs)
        body = {"macs": macs, "serverId": server_id, **fields, "remark": remark}
        return _ids_by_mac(self.post("device/add", body, write=True))

    def edit_device(
        self, device_id: str, server_id: str, fields: Mapping[str, str], remark: str = ""
    ) -> None:
        """Puts one device on the server with these `fields`. Every field is sent, so the
        answer is the same whether RPS's edit replaces the device or merges into it."""
        body = {"id": device_id, "serverId": server_id, **fields, "remark": remark}
        self.post("device/edit", body, write=True)

    def list_devices(
        self, key: str = "", skip: int = 0, limit: int = PAGE_SIZE
    ) -> tuple[list[RemoteDevice], int | None]:
        data = self.post("device/list", _page(key, skip, limit))
        return [_device(item) for item in _items(data)], _total(data)

    def iter_devices(self, key: str = "") -> Iterator[RemoteDevice]:
        yield from _paginate(lambda skip: self.list_devices(key, skip))

    def find_device(self, mac: str) -> RemoteDevice | None:
        """Our device with exactly this MAC (`key` is a fuzzy search, so filter)."""
        devices, _ = self.list_devices(mac, 0, 10)
        return next((device for device in devices if device.mac == mac), None)

    def check_mac(self, mac: str) -> tuple[bool, bool]:
        """(existed, ours): whether RPS knows the MAC and whether it is under our account."""
        data = self.get("device/checkMac", {"mac": mac}) or {}
        return bool(data.get("existed")), bool(data.get("self"))

    def migrate_devices(self, ids: list[str], server_id: str) -> None:
        _check_batch(ids)
        self.post("device/migrate", {"ids": ids, "serverId": server_id}, write=True)

    def delete_devices(self, macs: list[str]) -> None:
        # yealink.md does not settle whether `macs` or `ids` is canonical; we always know the
        # MAC (a deleted phone's RPS id may never have been told us), so we send MACs.
        _check_batch(macs)
        self.post("device/delete", {"macs": macs}, write=True)

    # --- transport ----------------------------------------------------------------------

    def post(self, call: str, body: dict[str, Any], *, write: bool = False) -> Any:
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        return self._request("POST", API + call, None, raw, write)

    def get(self, call: str, query: dict[str, str]) -> Any:
        return self._request("GET", API + call, query, b"", False)

    def _request(
        self, method: str, path: str, query: dict[str, str] | None, body: bytes, write: bool
    ) -> Any:
        call, started, timeouts = f"{method} {path.removeprefix(API)}", time.monotonic(), 0
        for attempt in range(self.retries + 1):
            try:
                return self._attempt(method, path, query, body, write, self._timeouts(started))
            except RpsError as refusal:
                refusal.call = call
                raise
            except _Retry as retry:
                pause = self._pause(attempt, retry.after)
                timeouts += retry.error.key == "timeout"
                last = attempt == self.retries or timeouts > TIMEOUT_RETRIES
                if last or not self._time_left(started, pause):
                    raise retry.error.gave_up(call, attempt + 1, started) from None
                # Debug only: the error the sync reports in the end says how many tries it took.
                logger.debug("%s failed (%s); retrying in %.1fs", call, retry, pause)
                self.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None,
        body: bytes,
        write: bool,
        timeout: tuple[float, float],
    ) -> Any:
        # Signed per attempt: a retry needs a fresh nonce and timestamp.
        timestamp = int(time.time() * 1000)
        headers = sign(method, path, query, body, self.key_id, self.secret, _nonce(), timestamp)
        url = self.base_url + path + (f"?{urlencode(query)}" if query else "")
        self.calls += 1
        self.write_calls += write
        try:
            response = self.session.request(
                method, url, data=body or None, headers=headers, timeout=timeout
            )
        except requests.RequestException as exc:
            raise _Retry(self._no_answer(exc, timeout)) from exc
        return _answer(response)

    def _no_answer(self, exc: requests.RequestException, timeout: tuple[float, float]) -> RpsError:
        where = urlsplit(self.base_url).netloc
        if isinstance(exc, requests.ConnectTimeout):
            return RpsError("timeout", f"RPS at {where} took no connection in {timeout[0]:g} s")
        if isinstance(exc, requests.Timeout):
            return RpsError("timeout", f"RPS at {where} did not answer in {timeout[1]:g} s")
        return RpsError("connection", f"RPS at {where} could not be reached: {_reason(exc)}")

    def _timeouts(self, started: float) -> tuple[float, float]:
        if self.call_seconds is None:
            return self.timeout
        left = max(self.call_seconds - (time.monotonic() - started), 0.1)
        return min(self.timeout[0], left), min(self.timeout[1], left)

    def _time_left(self, started: float, pause: float) -> bool:
        """Whether another attempt fits in `call_seconds` after this pause."""
        if self.call_seconds is None:
            return True
        return time.monotonic() - started + pause < self.call_seconds

    def _pause(self, attempt: int, retry_after: float | None) -> float:
        pause = self.backoff * 2**attempt if retry_after is None else retry_after
        return max(0.0, min(pause, self.backoff_max))


class _Retry(Exception):
    def __init__(self, error: RpsError, after: float | None = None) -> None:
        self.error = error
        self.after = after
        super().__init__(str(error))


def _answer(response: requests.Response) -> Any:
    """The `data` of a successful envelope; raises RpsError (wrapped in _Retry if worth it)."""
    status = response.status_code
    try:
        envelope = response.json()
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict):
        error = RpsError(f"http.{status}", "RPS answered without a JSON envelope", status)
        return _raise(error, response)
    failed = status >= 300 or not isinstance(envelope.get("ret"), int) or envelope["ret"] < 0
    if failed:
        return _raise(_error_of(envelope, status), response)
    return envelope.get("data")


def _error_of(envelope: dict[str, Any], status: int) -> RpsError:
    error = envelope.get("error") or {}
    key = str(error.get("msg") or f"http.{status}") if isinstance(error, dict) else str(error)
    details = error.get("fieldErrors") if isinstance(error, dict) else None
    message = f"{key}: {details}" if details else key
    return RpsError(key, message, status)


def _raise(error: RpsError, response: requests.Response) -> None:
    if error.retryable:
        raise _Retry(error, _retry_after(response.headers.get("Retry-After")))
    raise error


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


def _reason(exc: requests.RequestException) -> str:
    """Why requests got no connection, without its layers of wrapping: "Failed to establish
    a new connection: [Errno 111] Connection refused", "Failed to resolve 'rps.invalid' …"."""
    inner = exc.args[0] if exc.args else exc
    text = str(getattr(inner, "reason", inner))
    return text.split("): ", 1)[-1] if "): " in text else text


def _nonce() -> str:
    return str(uuid.uuid4())


def _check_batch(items: list[str]) -> None:
    if not 0 < len(items) <= MAX_BATCH:
        raise ValueError(f"an RPS batch holds 1 to {MAX_BATCH} items, not {len(items)}")


def _page(key: str, skip: int, limit: int) -> dict[str, Any]:
    return {"key": key, "skip": skip, "limit": limit, "autoCount": True}


def _items(data: Any) -> list[dict[str, Any]]:
    items = data.get("data") if isinstance(data, dict) else data
    return [item for item in items or [] if isinstance(item, dict)]


def _total(data: Any) -> int | None:
    total = data.get("total") if isinstance(data, dict) else None
    return total if isinstance(total, int) else None


def _paginate(fetch: Callable[[int], tuple[list[T], int | None]]) -> Iterator[T]:
    skip = 0
    while True:
        items, total = fetch(skip)
        yield from items
        skip += len(items)
        # Trust `total` when RPS sends it: a server that caps `limit` below ours would
        # otherwise look finished after its first short page.
        finished = skip >= total if total is not None else len(items) < PAGE_SIZE
        if not items or finished:
            return


def _id_of(data: Any) -> str:
    value = data.get("id") if isinstance(data, dict) else data
    if value in (None, ""):
        raise RpsError("invalid.response", "RPS created the server but sent no id")
    return str(value)


def _mac(value: Any) -> str:
    return "".join(char for char in str(value or "").lower() if char in "0123456789abcdef")


def _server(item: dict[str, Any]) -> RemoteServer:
    return RemoteServer(
        id=str(item.get("id", "")),
        name=str(item.get("serverName") or item.get("name") or ""),
        url=str(item.get("url") or ""),
        auth_name=str(item.get("authName") or ""),
        certificate_url=str(item.get("certificateUrl") or ""),
    )


def _device(item: dict[str, Any]) -> RemoteDevice:
    return RemoteDevice(
        id=str(item.get("id", "")),
        mac=_mac(item.get("mac")),
        server_id=str(item.get("serverId") or ""),
        unique_server_url=_listed(item, "uniqueServerUrl"),
        auth_name=_listed(item, "authName"),
    )


def _listed(item: dict[str, Any], name: str) -> str | None:
    return str(item[name] or "") if name in item else None


def _ids_by_mac(data: Any) -> dict[str, str]:
    # What device/add answers is not documented; use ids when it lists them, else none.
    items = _items(data) if isinstance(data, dict | list) else []
    return {_mac(item.get("mac")): str(item["id"]) for item in items if item.get("id") is not None}


def client_from_settings(call_seconds: float | None = None) -> RpsClient:
    """The client for the configured account; RpsConfigError says what is missing (in words
    for the provider: it names the settings)."""
    missing = [
        name
        for name in ("RPS_API_URL", "RPS_ACCESS_KEY_ID", "RPS_ACCESS_KEY_SECRET")
        if not getattr(settings, name, "")
    ]
    if missing:
        raise RpsConfigError(
            f"{' and '.join(missing)} must be set (see .env.example); nothing was sent to RPS.",
            missing,
        )
    if not settings.RPS_API_URL.startswith(("https://", "http://")):
        url = settings.RPS_API_URL
        raise RpsConfigError(f"RPS_API_URL must be an http(s) URL, not {url!r}.", [], url)
    return RpsClient(
        settings.RPS_API_URL,
        settings.RPS_ACCESS_KEY_ID,
        settings.RPS_ACCESS_KEY_SECRET,
        connect_timeout=settings.RPS_CONNECT_TIMEOUT,
        read_timeout=settings.RPS_READ_TIMEOUT,
        retries=settings.RPS_RETRIES,
        backoff=settings.RPS_BACKOFF_SECONDS,
        backoff_max=settings.RPS_BACKOFF_MAX_SECONDS,
        call_seconds=call_seconds,
    )
