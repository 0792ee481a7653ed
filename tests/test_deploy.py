"""Production settings: `check --deploy` reports only what the TLS proxy takes over."""

import gc
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k7#Qp2!vX9zR@m4Lw8^tY6&nB3*cF1%hJ5$dG0+sA-uE=iO_lP~rT",
    "FIELD_ENCRYPTION_KEYS": "cHJvZHVjdGlvbi1saWtlLWZpZWxkLWVuY3J5cHRpb24=",
    "ALLOWED_HOSTS": "provisioning.example.net",
    "CACHE_URL": "redis://127.0.0.1:6379/0",
    # One file per process: CI runs the SQLite and the PostgreSQL suites side by side.
    "DATABASE_URL": f"sqlite:///{tempfile.gettempdir()}/voipconfig-deploy-check-{os.getpid()}.sqlite3",
    "TRUSTED_PROXY_HOPS": "1",  # behind nginx, as deploy/ runs it
    "FIRMWARE_DELIVERY": "nginx",  # deploy/nginx.conf sends the images
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in PRODUCTION and k != "DJANGO_SETTINGS_MODULE"
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **PRODUCTION, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def check_ids(output: str) -> set[str]:
    return set(re.findall(r"\(([\w.]+\.[WE]\d+)\)", output))


def test_check_deploy_reports_only_hsts_and_the_https_redirect():
    result = manage("check", "--deploy")

    assert check_ids(result.stdout + result.stderr) == {"security.W004", "security.W008"}


def test_a_per_process_throttling_cache_is_reported():
    result = manage("check", "--deploy", CACHE_URL="locmemcache://")

    assert "voipconfig.W001" in check_ids(result.stdout + result.stderr)


def test_streaming_firmware_in_production_is_reported():
    """gunicorn cuts off a download that outlasts its timeout: a worker streaming sends no
    heartbeat."""
    result = manage("check", "--deploy", FIRMWARE_DELIVERY="stream")

    assert "voipconfig.W004" in check_ids(result.stdout + result.stderr)


def test_no_trusted_proxy_hop_behind_nginx_is_reported():
    """Every client would be 127.0.0.1: one client's failures lock everyone's login out."""
    result = manage("check", "--deploy", TRUSTED_PROXY_HOPS="0")

    assert "voipconfig.W003" in check_ids(result.stdout + result.stderr)


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS"])
def test_production_settings_refuse_to_start_without_their_secrets(missing):
    result = manage("check", **{missing: ""})

    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


def test_gunicorn_refuses_to_serve_with_debug_on(monkeypatch):
    code = compile((ROOT / "deploy" / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec")
    monkeypatch.setenv("DEBUG", "true")

    with pytest.raises(SystemExit, match="never serve production with DEBUG"):
        exec(code, {})  # our own configuration file


def _key_prefix(**env: str) -> str:
    done = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.CACHES['default']['KEY_PREFIX'])",
        **env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_two_installations_sharing_one_redis_database_use_different_keys():
    # A staging copy has the same MACs: what production shared about a phone must not reach it.
    production = _key_prefix(DATABASE_URL="postgres://voipconfig@db1.example/voipconfig")
    staging = _key_prefix(DATABASE_URL="postgres://voipconfig@db1.example/voipconfig_staging")

    assert production != staging
    assert production == _key_prefix(DATABASE_URL="postgres://voipconfig@db1.example/voipconfig")
    assert _key_prefix(CACHE_KEY_PREFIX="mine") == "mine"


def test_gunicorn_workers_collect_garbage_less_often(monkeypatch):
    code = compile((ROOT / "deploy" / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec")
    monkeypatch.setenv("DEBUG", "false")
    before = gc.get_threshold()
    try:
        for setting, expected in (("", before), ("1000,20,30", (1000, 20, 30))):
            monkeypatch.setenv("GC_THRESHOLD", setting)
            config: dict = {}
            exec(code, config)  # our own configuration file
            config["post_fork"](server=None, worker=None)
            assert gc.get_threshold() == expected
    finally:
        gc.set_threshold(*before)


def test_nginx_lets_every_phone_file_through_on_plain_http():
    """The port-80 block of deploy/nginx.conf passes the files phones fetch (and redirects
    the rest to HTTPS): every phone URL, token URLs included."""
    from tests.test_url_digits import EXAMPLES

    config = (ROOT / "deploy" / "nginx.conf").read_text()
    plain = config[config.index("listen 80;") :]
    found = re.search(r'location ~ "([^"]+)" \{', plain)  # quoted, or nginx refuses `{12}`
    assert found is not None
    pattern = found.group(1)  # PCRE, as Python reads it

    paths = [*EXAMPLES.values(), "/ca.crt"]
    assert [path for path in paths if not re.match(pattern, path)] == []
    assert not re.match(pattern, "/admin/")
