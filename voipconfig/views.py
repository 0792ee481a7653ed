"""Project-level views: the health check for load balancers, metrics for Prometheus, the
answer to a fault."""

from __future__ import annotations

import hmac
import ipaddress
import json
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.utils.translation import gettext
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from redis.exceptions import RedisError

from api.errors import is_api, problem_outside_drf
from devices.serving import access_log_state, client_ip, service_unavailable
from voipconfig import metrics as counted
from voipconfig.cache import RedisCache


@csrf_exempt  # it takes no form: any method but GET and HEAD is a 405, not the CSRF 403
@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """This process's health, for load balancers: a JSON object

        {"status": "ok" | "degraded" | "unavailable",
         "database": "ok" | "unreachable",
         "redis": "ok" | "unreachable" | "not configured",
         "access_log": {"status": "ok" | "degraded" | "failing", "pending": rows, ...},
         "degraded": [parts], "failing": [parts]}

    - **ok**, 200: everything answers.
    - **degraded**, 200: phones are served, less well; `degraded` names what: `redis`
      unreachable (changes reach other processes within CONFIG_CACHE_MAX_AGE_SECONDS,
      throttling counts per process), or `access_log` behind (rows wait longer than usual).
      A balancer that reads the status code keeps the server; one that reads the JSON can
      tell it from ok.
    - **unavailable**, 503: phones get 503s from this process; `failing` names why: the
      `database` unreachable, or the `access_log` failing (its rows cannot be written).

    Redis is asked once, within REDIS_TIMEOUT_SECONDS, and not at all while the process's
    breaker is open (it is then unreachable). A kept database connection that died while the
    database was away fails once; it is not the database's state, so a new connection is
    tried before answering unreachable."""
    report: dict[str, Any] = {
        "database": _database(),
        "redis": _redis(),
        "access_log": access_log_state(),  # any further keys of the writer's pass through
    }
    failing = [
        part
        for part, bad in (
            ("database", report["database"] != "ok"),
            ("access_log", report["access_log"].get("status") == "failing"),
        )
        if bad
    ]
    degraded = [
        part
        for part, bad in (
            ("redis", report["redis"] == "unreachable"),
            ("access_log", report["access_log"].get("status") == "degraded"),
        )
        if bad
    ]
    status = "unavailable" if failing else "degraded" if degraded else "ok"
    body = {"status": status, **report, "degraded": degraded, "failing": failing}
    if failing:
        return service_unavailable(json.dumps(body), content_type="application/json")
    return JsonResponse(body)


def _database() -> str:
    for _attempt in range(2):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except DatabaseError:
            connection.close()
            continue
        return "ok"
    return "unreachable"


def _redis() -> str:
    cache = caches[settings.CONFIG_CACHE_ALIAS]
    if not isinstance(cache, RedisCache):
        return "not configured"
    if not cache.reachable():
        return "unreachable"
    try:
        cache.client(write=True).ping()
    except (RedisError, OSError):  # refused, timed out, or refused us (a wrong password)
        return "unreachable"
    return "ok"


@csrf_exempt  # a scraper sends no CSRF token: any method but GET and HEAD is a 405
@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics (voipconfig/metrics.py): for addresses in METRICS_ALLOWED_NETWORKS
    (the client's address as the phone path takes it, behind TRUSTED_PROXY_HOPS), or with
    `Authorization: Bearer <METRICS_TOKEN>`; else 403. A wrong token is refused from any
    address. 404 with METRICS_ENABLED off."""
    if not settings.METRICS_ENABLED:
        raise Http404
    if not _may_scrape(request):
        return HttpResponseForbidden("Not allowed to read the metrics.\n", "text/plain")
    counted.access_log_backlog(access_log_state()["pending"])  # this process's, now
    return HttpResponse(counted.exposition(), content_type=counted.CONTENT_TYPE)


def _may_scrape(request: HttpRequest) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        expected = settings.METRICS_TOKEN.encode()
        return bool(expected) and hmac.compare_digest(token.strip().encode(), expected)
    address = client_ip(request)
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in _networks(tuple(settings.METRICS_ALLOWED_NETWORKS)))


@lru_cache(maxsize=4)
def _networks(
    networks: tuple[str, ...],
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(network, strict=False) for network in networks]


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: under /api/v1/ a fault is a problem document too (logged with its
    traceback by Django, never shown); elsewhere Django's own page."""
    if is_api(request):
        return problem_outside_drf(
            500, "server_error", gettext("The server failed to answer this request; it is logged.")
        )
    return defaults.server_error(request)
