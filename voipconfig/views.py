"""Project-level views: the health check for load balancers."""

from __future__ import annotations

import json

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from devices.serving import service_unavailable


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database answers, 503 when it does not.

    A kept connection that died while the database was away fails once; it is not the
    database's state, so a new connection is tried before answering 503."""
    for _attempt in range(2):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except DatabaseError:
            connection.close()
            continue
        return JsonResponse({"status": "ok", "database": "ok"})
    down = {"status": "unavailable", "database": "unreachable"}
    return service_unavailable(json.dumps(down), content_type="application/json")
