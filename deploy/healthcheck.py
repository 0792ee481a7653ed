"""The container's health check (deploy/Dockerfile's HEALTHCHECK): GET /healthz of the
gunicorn in this container, exit 0 when it answers 200 (ok or degraded), 1 otherwise.

Standard library only, no Django: it runs every 30 s and must cost next to nothing. It sends
the first of ALLOWED_HOSTS as the Host header: Django refuses any other host with a 400.
"""

from __future__ import annotations

import http.client
import os
import sys


def host_header() -> str:
    first = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip()
    if not first or first == "*":
        return "localhost"
    return first.lstrip(".")  # ".example.net" allows example.net and its subdomains


def main() -> int:
    port = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").rpartition(":")[2]
    connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
    try:
        connection.request("GET", "/healthz", headers={"Host": host_header()})
        status = connection.getresponse().status
    except OSError as exc:
        print(f"healthz: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"healthz: {status}", file=sys.stderr)
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
