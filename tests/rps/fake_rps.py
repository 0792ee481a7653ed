"""A fake Yealink RPS on 127.0.0.1: real HTTP, the real envelope, and a strict signature check.

It keeps servers and devices in memory, each with an owner ("us" for the account the tests
sign with, anything else for another RPS customer), and records every call. It can be told to
fail or slow down the next calls of an endpoint. The signature is recomputed here from the raw
request, independently of `rps.client.sign`, exactly as yealink.md §6 describes.

A device keeps the `uniqueServerUrl`, `authName` and `password` of its own that device/add and
device/edit carry (`device_fields()` shows them; device/list, like the server list, never
shows a password). yealink.md names these fields but not their rules; the fake refuses what
RPS could not hand a phone, an assumption marked where it is made (`_check_device_fields`):
a URL that is not http(s), ftp or tftp, a URL over 255 characters, a user name or password with
white space or control characters or over 64 characters, credentials without a URL, and a
password without a user name.

Used by the tests (the `fake_rps` fixture) and by bench/rps_bench.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

HOST = "127.0.0.1"
KEY_ID = "test-key-id"
SECRET = "test-key-secret"
US = "us"
PREFIX = "/api/open/v1/"
WINDOW_MS = 15 * 60 * 1000
WRITES = {
    "server/add",
    "server/edit",
    "server/delete",
    "device/add",
    "device/edit",
    "device/migrate",
    "device/delete",
}
_MAC = re.compile(r"^[0-9a-f]{12}$")
_SERVER_NAME = re.compile(r"^[A-Za-z0-9._-]{1,20}$")
DEVICE_FIELDS = ("uniqueServerUrl", "authName", "password")
_URL = re.compile(r"^(https?|ftp|tftp)://[^\s/?#]+[^\s]*$")
_CREDENTIAL = re.compile(r"^[\x21-\x7e]{1,64}$")  # printable ASCII, no space: assumed


class Refusal(Exception):
    def __init__(self, key: str, status: int = 200, field_errors: list | None = None) -> None:
        self.key, self.status, self.field_errors = key, status, field_errors or []
        super().__init__(key)


@dataclass
class Call:
    method: str
    endpoint: str  # "device/add"
    body: Any
    query: dict[str, str]
    status: int = 0
    key: str = ""  # the error key answered, "" on success

    @property
    def is_write(self) -> bool:
        return self.endpoint in WRITES


@dataclass
class Rule:
    """Answer matching calls with `status` (0: answer normally) after `delay` seconds."""

    endpoint: str
    times: int
    status: int = 500
    key: str = ""
    delay: float = 0.0
    retry_after: str | None = None
    match: Callable[[Any], bool] | None = None


@dataclass
class FakeRps:
    key_id: str = KEY_ID
    secret: str = SECRET
    servers: dict[str, dict] = field(default_factory=dict)
    devices: dict[str, dict] = field(default_factory=dict)  # by MAC
    by_id: dict[str, dict] = field(default_factory=dict)  # an index of `devices`
    calls: list[Call] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    busy: int = 0  # requests being answered
    latency: float = 0.0  # seconds added to every answer (the benchmark's network)
    max_page: int = 1000  # list calls answer at most this many, whatever `limit` asks
    httpd: ThreadingHTTPServer | None = None

    # --- running ------------------------------------------------------------------------

    def start(self) -> FakeRps:
        handler = type("Handler", (_Handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer((HOST, 0), handler)
        self.httpd.daemon_threads = True
        serve = self.httpd.serve_forever
        threading.Thread(target=serve, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    @property
    def url(self) -> str:
        assert self.httpd is not None, "start() the fake first"
        return f"http://{HOST}:{self.httpd.server_port}"

    # --- what tests set up and look at --------------------------------------------------

    def fail(self, endpoint: str, status: int = 500, times: int = 1, **kwargs) -> None:
        """The next `times` calls of `endpoint` (that `match` their body) get `status`."""
        self.rules.append(Rule(endpoint, times, status, **kwargs))

    def delay(self, endpoint: str, seconds: float, times: int = 1) -> None:
        self.rules.append(Rule(endpoint, times, status=0, delay=seconds))

    def seed_server(self, name: str, owner: str = US, **fields) -> str:
        server_id = self._next_id()
        self.servers[server_id] = {"id": server_id, "serverName": name, "owner": owner, **fields}
        return server_id

    def seed_device(self, mac: str, owner: str = US, server_id: str = "", **fields: str) -> str:
        device_id = self._next_id()
        self.devices[mac] = {"id": device_id, "mac": mac, "serverId": server_id, "owner": owner}
        self.devices[mac].update({name: fields.get(name, "") for name in DEVICE_FIELDS})
        return device_id

    def device_fields(self, mac: str) -> dict[str, str]:
        """The uniqueServerUrl, authName and password RPS would hand this phone of its own."""
        return {name: self.devices[mac][name] for name in DEVICE_FIELDS}

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Until every request is answered (one the client gave up on may still be running)."""
        deadline = time.monotonic() + timeout
        while self.busy and time.monotonic() < deadline:
            time.sleep(0.01)

    def write_calls(self) -> list[Call]:
        return [call for call in self.calls if call.is_write]

    def calls_to(self, endpoint: str) -> list[Call]:
        return [call for call in self.calls if call.endpoint == endpoint]

    def our_devices(self) -> dict[str, str]:
        """MAC -> server name, for the devices under our account."""
        names = {sid: server["serverName"] for sid, server in self.servers.items()}
        return {
            mac: names.get(device["serverId"], "")
            for mac, device in self.devices.items()
            if device["owner"] == US
        }

    def server_named(self, name: str) -> dict:
        return next(server for server in self.servers.values() if server["serverName"] == name)

    def _next_id(self) -> str:
        return str(next(self.ids))

    # --- the signature (§6), from the raw request -------------------------------------

    def check_signature(self, method: str, target: str, headers: Any, body: bytes) -> None:
        if headers.get("X-Ca-Key") != self.key_id:
            raise Refusal("accesskey.invalid", 401)
        md5 = headers.get("Content-MD5", "")
        if body and md5 != base64.b64encode(hashlib.md5(body).digest()).decode():
            raise Refusal("signature.content.md5.mismatch", 401)
        if not body and md5:
            raise Refusal("signature.content.md5.unexpected", 401)
        timestamp, nonce = headers.get("X-Ca-Timestamp", ""), headers.get("X-Ca-Nonce", "")
        if not timestamp.isdigit() or abs(time.time() * 1000 - int(timestamp)) > WINDOW_MS:
            raise Refusal("signature.timestamp.expired", 401)
        expected = self._signature(method, target, md5, nonce, timestamp)
        if not hmac.compare_digest(headers.get("X-Ca-Signature", ""), expected):
            raise Refusal("signature.invalid", 401)
        with self.lock:
            if not nonce or nonce in self.nonces:
                raise Refusal("signature.nonce.used", 401)
            self.nonces.add(nonce)

    def _signature(self, method: str, target: str, md5: str, nonce: str, timestamp: str) -> str:
        parts = urlsplit(target)
        lines = [method]
        if md5:
            lines.append(f"Content-MD5:{md5}")
        lines.append(f"X-Ca-Key:{self.key_id}")
        lines.append(f"X-Ca-Nonce:{nonce}")
        lines.append(f"X-Ca-Timestamp:{timestamp}")
        lines.append(parts.path[1:])
        if parts.query:
            pairs = sorted(parse_qsl(parts.query, keep_blank_values=True))
            lines.append("&".join(f"{k}={v}" for k, v in pairs))
        text = "\n".join(lines).encode()
        return base64.b64encode(
            hmac.new(self.secret.encode(), text, hashlib.sha256).digest()
        ).decode()

    # --- the API ------------------------------------------------------------------------

    def answer(self, call: Call) -> Any:
        handler = getattr(self, "_" + call.endpoint.replace("/", "_"), None)
        if handler is None:
            raise Refusal("api.not.found", 404)
        with self.lock:
            return handler(call.body if call.method == "POST" else call.query)

    def _server_add(self, body: dict) -> dict:
        _require(body, "serverName", "url", "authName", "password")
        self._check_name(body["serverName"], None)
        server_id = self._next_id()
        self.servers[server_id] = {"id": server_id, "owner": US, **_server_fields(body)}
        return {"id": server_id}

    def _server_edit(self, body: dict) -> None:
        server = self._our_server(body.get("id"))
        self._check_name(body.get("serverName", server["serverName"]), server["id"])
        server.update(_server_fields({**server, **body}))

    def _server_list(self, body: dict) -> dict:
        ours = [s for s in self.servers.values() if s["owner"] == US]
        found = [s for s in ours if body.get("key", "") in s["serverName"]]
        page = _page(found, body, self.max_page)
        return {"data": [_public(s) for s in page], "total": len(found)}

    def _server_checkServerName(self, query: dict) -> dict:
        name = query.get("serverName", "")
        return {"existed": any(s["serverName"] == name for s in self.servers.values())}

    def _server_delete(self, body: dict) -> None:
        for server_id in body.get("ids") or []:
            self._our_server(server_id)
        for server_id in body["ids"]:
            del self.servers[server_id]

    def _device_add(self, body: dict) -> list[dict]:
        macs = body.get("macs") or []
        if not 0 < len(macs) <= 100:
            raise Refusal("device.macs.size", 400)
        server_id = self._our_server(body.get("serverId"))["id"]
        own = _check_device_fields(body, {})
        self._check_new_macs(macs)
        for mac in macs:  # one set of fields for every MAC of the call
            self.devices[mac] = {"id": self._next_id(), "mac": mac, "serverId": server_id}
            self.devices[mac].update(owner=US, remark=body.get("remark", ""), **own)
        return [{"id": self.devices[mac]["id"], "mac": mac} for mac in macs]

    def _device_edit(self, body: dict) -> None:
        # A field left out keeps its value (whether RPS merges or replaces is unconfirmed;
        # the client sends every field, so both give the same answer).
        device = self._our_device_by_id(body.get("id"))
        server_id = self._our_server(body.get("serverId"))["id"]
        own = _check_device_fields(body, device)
        device.update(serverId=server_id, remark=body.get("remark", device.get("remark", "")))
        device.update(own)

    def _device_list(self, body: dict) -> dict:
        ours = [d for d in self.devices.values() if d["owner"] == US]
        found = [d for d in ours if body.get("key", "") in d["mac"]]
        page = _page(found, body, self.max_page)
        return {"data": [_public(d) for d in page], "total": len(found)}

    def _device_checkMac(self, query: dict) -> dict:
        device = self.devices.get(query.get("mac", ""))
        return {"existed": device is not None, "self": bool(device and device["owner"] == US)}

    def _device_migrate(self, body: dict) -> None:
        server_id = self._our_server(body.get("serverId"))["id"]
        devices = [self._our_device_by_id(device_id) for device_id in body.get("ids") or []]
        if not 0 < len(devices) <= 100:
            raise Refusal("device.ids.size", 400)
        for device in devices:
            device["serverId"] = server_id

    def _device_delete(self, body: dict) -> None:
        # yealink.md leaves open whether `macs` or `ids` is canonical: accept both.
        if "macs" in body:
            devices = [self._our_device_by_mac(mac) for mac in body["macs"]]
        else:
            devices = [self._our_device_by_id(device_id) for device_id in body.get("ids") or []]
        if not 0 < len(devices) <= 100:
            raise Refusal("device.macs.size", 400)
        for device in devices:
            del self.devices[device["mac"]]

    def _check_name(self, name: str, own_id: str | None) -> None:
        if not _SERVER_NAME.match(name or ""):
            raise Refusal("server.name.invalid", 400)
        if any(s["serverName"] == name and s["id"] != own_id for s in self.servers.values()):
            raise Refusal("server.name.existed")

    def _check_new_macs(self, macs: list[str]) -> None:
        bad = [mac for mac in macs if not _MAC.match(str(mac))]
        if bad:
            raise Refusal("device.mac.invalid", 400, [{"field": "macs", "value": bad}])
        for key, owned in (("device.mac.added.by.other", False), ("device.mac.existed", True)):
            hits = [
                m for m in macs if m in self.devices and (self.devices[m]["owner"] == US) == owned
            ]
            if hits:  # all or nothing, like an RPS that validates the batch first
                raise Refusal(key, 200, [{"field": "macs", "value": hits}])

    def _our_server(self, server_id: Any) -> dict:
        server = self.servers.get(str(server_id))
        if server is None or server["owner"] != US:
            raise Refusal("server.not.found")
        return server

    def _our_device_by_mac(self, mac: str) -> dict:
        device = self.devices.get(mac)
        if device is None:
            raise Refusal("device.not.found")
        if device["owner"] != US:
            raise Refusal("device.operate.forbidden")
        return device

    def _our_device_by_id(self, device_id: Any) -> dict:
        device = self.by_id.get(str(device_id))
        if device is None or self.devices.get(device["mac"]) is not device:
            # Tests change `devices` directly: the index is made again when it is out of date.
            self.by_id = {d["id"]: d for d in self.devices.values()}
            device = self.by_id.get(str(device_id))
        if device is None:
            raise Refusal("device.not.found")
        return self._our_device_by_mac(device["mac"])

    # --- failure injection --------------------------------------------------------------

    def rule_for(self, call: Call) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                wanted = rule.endpoint == call.endpoint and rule.times > 0
                if wanted and (rule.match is None or rule.match(call.body)):
                    rule.times -= 1
                    return rule
        return None


def _require(body: dict, *names: str) -> None:
    missing = [name for name in names if not body.get(name)]
    if missing:
        raise Refusal("param.required", 400, [{"field": name} for name in missing])


def _check_device_fields(body: dict, device: dict) -> dict[str, str]:
    """The per-device fields of a device call, with `device`'s for those it leaves out;
    refused, all or nothing, when RPS could not hand them to a phone (assumed rules)."""
    own = {name: body.get(name, device.get(name, "")) for name in DEVICE_FIELDS}
    bad = [name for name in DEVICE_FIELDS if not _acceptable(name, own[name])]
    if (own["authName"] or own["password"]) and not own["uniqueServerUrl"]:
        bad.append("uniqueServerUrl")  # credentials without a URL to use them with
    if own["password"] and not own["authName"]:
        bad.append("authName")
    if bad:
        raise Refusal("param.invalid", 400, [{"field": name} for name in dict.fromkeys(bad)])
    return own


def _acceptable(name: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if name == "uniqueServerUrl":
        return not value or (len(value) <= 255 and _URL.match(value) is not None)
    return not value or _CREDENTIAL.match(value) is not None


def _server_fields(body: dict) -> dict:
    names = ("serverName", "url", "authName", "password", "certificateUrl")
    return {name: body.get(name, "") for name in names}


def _public(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in ("owner", "password")}


def _page(items: list, body: dict, max_page: int) -> list:
    skip, limit = int(body.get("skip") or 0), int(body.get("limit") or 20)
    return items[skip : skip + min(limit, max_page)]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeRps
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet tests

    def _handle(self, method: str) -> None:
        with self.fake.lock:
            self.fake.busy += 1
        try:
            self._answer(method)
        finally:
            with self.fake.lock:
                self.fake.busy -= 1

    def _answer(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.fake.latency:
            time.sleep(self.fake.latency)
        parts = urlsplit(self.path)
        endpoint = parts.path.removeprefix(PREFIX)
        call = Call(method, endpoint, None, dict(parse_qsl(parts.query)))
        self.fake.calls.append(call)
        try:
            self.fake.check_signature(method, self.path, self.headers, body)
            call.body = _json(body) if method == "POST" else None
            rule = self.fake.rule_for(call)
            if rule and self._injected(call, rule):
                return
            self._send(call, 200, {"ret": 0, "data": self.fake.answer(call), "error": None})
        except Refusal as refusal:
            call.key = refusal.key
            error = {"msg": refusal.key, "fieldErrors": refusal.field_errors}
            self._send(call, refusal.status, {"ret": -1, "data": None, "error": error})

    def _injected(self, call: Call, rule: Rule) -> bool:
        if rule.delay:
            time.sleep(rule.delay)
        if not rule.status:
            return False
        if rule.key:
            raise Refusal(rule.key, rule.status)
        headers = {"Retry-After": rule.retry_after} if rule.retry_after is not None else {}
        call.key = f"http.{rule.status}"
        self._send(call, rule.status, {"ret": -1, "error": {"msg": "busy"}}, headers)
        return True

    def _send(self, call: Call, status: int, envelope: dict, headers: dict | None = None) -> None:
        call.status = status
        raw = json.dumps(envelope).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a read timeout test)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else {}
    except ValueError as exc:
        raise Refusal("request.body.invalid", 400) from exc
