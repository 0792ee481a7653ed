"""Stop the database under a running server: phones get 503 + Retry-After, /healthz says so,
and service comes back by itself when the database does.

It runs gunicorn against a PostgreSQL cluster of its own (Debian's pg_createcluster), so that
stopping it touches nothing else. Needs root and Debian's PostgreSQL tools; CI has both.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from requests.auth import HTTPDigestAuth

pytestmark = pytest.mark.own_server

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = f"vcoutage{os.getpid()}"  # its own, even when two test runs share the machine
UA = {"User-Agent": "Yealink SIP-T54W 96.86.0.100 80:5e:c0:00:00:01"}
AUTH = HTTPDigestAuth("demo", "demo-provisioning")


def _tools_or_skip() -> str:
    versions = (
        sorted(os.listdir("/usr/lib/postgresql")) if os.path.isdir("/usr/lib/postgresql") else []
    )
    reason = None
    if not shutil.which("pg_createcluster") or not versions:
        reason = "Debian's PostgreSQL cluster tools are not installed"
    elif os.geteuid() != 0:
        reason = "creating a PostgreSQL cluster needs root"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the outage test: {reason}")
        pytest.skip(reason)
    return versions[-1]


def _cluster(action: str, version: str, *extra: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", version, CLUSTER, action, *extra], check=True, capture_output=True
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except (requests.ConnectionError, requests.Timeout):  # not listening, or still booting
            time.sleep(0.2)
    raise TimeoutError(url)


# Without a shared cache every phone request reads the database; with Redis a phone whose
# entry is kept is served without it, and only the access log needs the database.
@pytest.fixture(scope="module", params=["locmemcache://", "redis://127.0.0.1:6379/12"])
def server(request):
    version = _tools_or_skip()
    pg_port = _free_port()
    subprocess.run(
        ["pg_createcluster", "-p", str(pg_port), "--start", version, CLUSTER, "--", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    try:
        yield from _serve(version, pg_port, request.param)
    finally:
        subprocess.run(["pg_dropcluster", "--stop", version, CLUSTER], capture_output=True)


def _serve(version: str, pg_port: int, cache_url: str):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "voipconfig.settings",  # production's, not the tests'
        "ACCESS_LOG_SPOOL_DIR": tempfile.mkdtemp(prefix="vc-outage-spool-"),
        "DEBUG": "false",
        "SECRET_KEY": "outage-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "FIELD_ENCRYPTION_KEYS": "b3V0YWdlLXRlc3QtZmllbGQtZW5jcnlwdGlvbi1rZXk=",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{pg_port}/postgres",
        "ALLOWED_HOSTS": "127.0.0.1",
        "CONN_MAX_AGE": "60",
        "CACHE_URL": cache_url,
    }
    if cache_url.startswith("redis"):
        import redis

        redis.Redis.from_url(cache_url).flushdb()
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "loaddemo"], env=env, check=True, cwd=ROOT, capture_output=True)
    port = _free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the server)
    gunicorn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "voipconfig.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--timeout",
            "30",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        # Not a pipe: nobody reads it, and a full pipe would block the workers' logging.
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base + "/healthz")
        yield base, version, pg_port
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=20)
        log.close()


def phone_fetch(base: str) -> requests.Response:
    return requests.get(f"{base}/805ec0000001.cfg", headers=UA, auth=AUTH, timeout=10)


def test_the_server_answers_503_while_the_database_is_down_and_recovers(server):
    base, version, _ = server
    assert phone_fetch(base).status_code == 200
    assert requests.get(f"{base}/healthz", timeout=5).status_code == 200

    _cluster("stop", version, "-m", "fast")
    try:
        # A phone served from the shared cache is answered until its row cannot be written.
        served = _served_from_cache_until_the_log_fails(base)
        down = [phone_fetch(base) for _ in range(4)]
        health = requests.get(f"{base}/healthz", timeout=5)
        admin = requests.get(f"{base}/admin/devices/device/", timeout=5, allow_redirects=False)
    finally:
        _cluster("start", version)

    assert served <= 2  # one per worker at most: then its writer knows the database is gone
    assert [r.status_code for r in down] == [503] * 4
    assert all(r.headers["Retry-After"] == "60" for r in down)
    assert all(b"Traceback" not in r.content for r in down)
    assert health.status_code == 503
    assert health.json()["database"] == "unreachable"
    assert admin.status_code in (302, 503)  # never a 500 (the login redirect needs no database)
    deadline = time.monotonic() + 20
    while (back := phone_fetch(base)).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert back.status_code == 200
    assert b"account.1.user_name = 1001" in back.content
    # Each worker says how it stands, and the one that answers may not have written its
    # backlog yet (on a loaded machine it was still "failing" just after the phone's 200).
    while (health := requests.get(f"{base}/healthz", timeout=5)).status_code != 200:
        assert time.monotonic() < deadline + 20, health.json()
        time.sleep(0.5)


def _served_from_cache_until_the_log_fails(base: str) -> int:
    served = 0
    while phone_fetch(base).status_code == 200:
        served += 1
        time.sleep(0.3)  # the writer tries every ACCESS_LOG_FLUSH_SECONDS
        assert served < 10
    return served


def test_no_access_log_row_is_lost_across_an_outage(server):
    import psycopg

    base, version, pg_port = server
    since = datetime.now(UTC)
    answers = [phone_fetch(base).status_code for _ in range(3)]
    _cluster("stop", version, "-m", "fast")
    try:
        answers += [phone_fetch(base).status_code for _ in range(3)]
    finally:
        _cluster("start", version)
    deadline = time.monotonic() + 20
    while (last := phone_fetch(base).status_code) != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    answers.append(last)

    # Served answers (200) have their rows in the table once the batches are written; the
    # 503s went to the application log, as the server could not write them.
    query = (
        "SELECT count(*) FROM devices_accesslog "
        "WHERE mac = '805ec0000001' AND status_code = 200 AND created_at >= %s"
    )
    url = f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"
    deadline = time.monotonic() + 10
    while True:
        with psycopg.connect(url) as conn:
            (written,) = conn.execute(query, [since]).fetchone() or (0,)
        if written == answers.count(200) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert set(answers) <= {200, 503}
    assert written == answers.count(200)
