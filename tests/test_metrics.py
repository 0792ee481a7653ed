"""/metrics: what phones did, counted by kind and outcome, for Prometheus only; and the JSON
log lines of phone requests."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from devices.models import AccessLog
from firmware.models import Rollout, RolloutPhone
from rps.summary import SyncSummary
from rps.sync import _count as count_rps_sync
from tests.conftest import basic
from tests.factories import user_agent
from tests.firmware.test_targets import NEW, make_image
from voipconfig.log_format import JsonFormatter

ROOT = Path(__file__).resolve().parent.parent
MAC_FILE = "/805ec0aaaa01.cfg"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client, **extra) -> Samples:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200
    return parse(response.content.decode())


def parse(text: str) -> Samples:
    """Every sample by name and labels; the text must parse as Prometheus's format."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_phone_requests_are_counted_by_kind_and_outcome(client, tenant_a):
    before = scrape(client)

    client.get(MAC_FILE, headers=tenant_a.phone_headers())
    client.get(MAC_FILE, headers=tenant_a.phone_headers())
    client.get(MAC_FILE, headers=tenant_a.phone_headers(auth=False))  # the round's 401
    client.get("/y000000000000.boot", headers=tenant_a.own_headers())
    client.get("/805ec0ffffff.cfg", headers=tenant_a.own_headers())  # another phone's file

    after = scrape(client)
    requests = "voipconfig_phone_requests_total"
    for kind, outcome, more in [
        ("mac_file", "success", 2),
        ("mac_file", "challenge", 1),
        ("common_boot", "success", 1),
        ("mac_file", AccessLog.Outcome.MAC_MISMATCH, 1),
    ]:
        grew = value(after, requests, kind=kind, outcome=outcome) - value(
            before, requests, kind=kind, outcome=outcome
        )
        assert grew == more, (kind, outcome)


def test_the_latency_histogram_has_the_requests(client, tenant_a):
    before = scrape(client)

    client.get(MAC_FILE, headers=tenant_a.phone_headers())

    after = scrape(client)
    name = "voipconfig_phone_request_seconds"
    count = value(after, f"{name}_count", kind="mac_file") - value(
        before, f"{name}_count", kind="mac_file"
    )
    assert count == 1
    assert value(after, f"{name}_bucket", kind="mac_file", le="+Inf") >= 1
    assert value(after, f"{name}_sum", kind="mac_file") > 0


def test_the_access_log_backlog_is_reported(client, db):
    samples = scrape(client)

    assert ("voipconfig_access_log_backlog_rows", frozenset()) in samples
    assert samples[("voipconfig_access_log_backlog_rows", frozenset())] == 0  # written at once


def test_cache_lookups_are_counted(client, tenant_a, settings):
    settings.CONFIG_CACHE = True  # per process here: this test's only process
    before = scrape(client)

    client.get(MAC_FILE, headers=tenant_a.own_headers())
    client.get(MAC_FILE, headers=tenant_a.own_headers())

    after = scrape(client)
    lookups = "voipconfig_config_cache_lookups_total"
    hits = value(after, lookups, kept="phone", result="hit") - value(
        before, lookups, kept="phone", result="hit"
    )
    misses = value(after, lookups, kept="phone", result="miss") - value(
        before, lookups, kept="phone", result="miss"
    )
    assert (misses, hits) == (1, 1)


def test_a_throttled_request_is_counted(client, tenant_a, settings):
    settings.THROTTLE_MAX_FAILURES_PER_IP = 2
    before = scrape(client)
    wrong = {"User-Agent": user_agent("805ec0ff0001"), "Authorization": basic("x", "y")}

    statuses = [
        client.get("/805ec0ff0001.cfg", headers=wrong, REMOTE_ADDR="203.0.113.7").status_code
        for _ in range(3)
    ]

    after = scrape(client)
    assert statuses == [401, 401, 429]
    throttled = "voipconfig_throttled_requests_total"
    assert value(after, throttled, limit="ip") - value(before, throttled, limit="ip") == 1
    requests = "voipconfig_phone_requests_total"
    grew = value(after, requests, kind="mac_file", outcome="throttled") - value(
        before, requests, kind="mac_file", outcome="throttled"
    )
    assert grew == 1


def test_rollouts_and_their_phones_are_reported_by_state(client, tenant_a):
    image = make_image(NEW)
    rollout = Rollout.objects.create(name="Spring", image=image, waves="100")
    Rollout.objects.create(name="Autumn", image=image, waves="100", state=Rollout.State.RUNNING)
    RolloutPhone.objects.create(rollout=rollout, device=tenant_a.device, wave=1)

    samples = scrape(client)

    assert value(samples, "voipconfig_firmware_rollouts", state="draft") == 1
    assert value(samples, "voipconfig_firmware_rollouts", state="running") == 1
    assert ("voipconfig_firmware_rollouts", frozenset({("state", "halted")})) in samples  # 0
    phones = "voipconfig_firmware_rollout_phones"
    assert value(samples, phones, rollout_state="draft", state="waiting") == 1
    assert value(samples, "voipconfig_metrics_database_up") == 1


def test_rps_sync_results_are_counted(client, db):
    before = scrape(client)

    count_rps_sync(SyncSummary(devices_registered=3, devices_failed=1))

    after = scrape(client)
    runs = "voipconfig_rps_sync_runs_total"
    assert value(after, runs, state="in_sync") - value(before, runs, state="in_sync") == 1
    devices = "voipconfig_rps_sync_devices_total"
    assert (
        value(after, devices, result="registered") - value(before, devices, result="registered")
        == 3
    )
    assert value(after, "voipconfig_rps_sync_last_run_timestamp_seconds") > 0


def test_a_scrape_is_not_in_the_access_log(client, tenant_a):
    scrape(client)

    assert not AccessLog.objects.exists()


# --- who may scrape ----------------------------------------------------------------------------


def test_an_address_outside_the_allowed_networks_is_refused(client, db):
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.20").status_code == 403


def test_an_allowed_network_may_scrape(client, db, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["198.51.100.0/24"]

    assert client.get("/metrics", REMOTE_ADDR="198.51.100.20").status_code == 200
    assert client.get("/metrics").status_code == 403  # 127.0.0.1 no longer


def test_the_right_token_opens_it_from_anywhere(client, db, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    headers = {"Authorization": "Bearer s3cret-scrape-token"}

    response = client.get("/metrics", headers=headers, REMOTE_ADDR="198.51.100.20")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    parse(response.content.decode())


def test_a_wrong_token_is_refused_even_from_an_allowed_address(client, db, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"

    wrong = client.get("/metrics", headers={"Authorization": "Bearer guessed"})
    far = client.get(
        "/metrics", headers={"Authorization": "Bearer guessed"}, REMOTE_ADDR="198.51.100.20"
    )

    assert (wrong.status_code, far.status_code) == (403, 403)


def test_no_token_is_set_so_none_opens_it(client, db):
    response = client.get(
        "/metrics", headers={"Authorization": "Bearer "}, REMOTE_ADDR="198.51.100.20"
    )

    assert response.status_code == 403


def test_behind_the_proxy_the_forwarded_address_counts(client, db, settings):
    settings.TRUSTED_PROXY_HOPS = 1

    forged = client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.20"})
    local = client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.20, 127.0.0.1"})

    assert (forged.status_code, local.status_code) == (403, 200)


def test_metrics_switched_off_are_not_found_and_not_counted(client, tenant_a, settings):
    before = scrape(client)
    settings.METRICS_ENABLED = False

    client.get(MAC_FILE, headers=tenant_a.phone_headers())
    off = client.get("/metrics")

    settings.METRICS_ENABLED = True
    after = scrape(client)
    assert off.status_code == 404
    requests = "voipconfig_phone_requests_total"
    assert value(after, requests, kind="mac_file", outcome="success") == value(
        before, requests, kind="mac_file", outcome="success"
    )


def test_only_get_and_head_are_answered(client, db):
    assert client.post("/metrics").status_code == 405


# --- several processes -------------------------------------------------------------------------

COUNT_IN_A_PROCESS = """
import os, django
django.setup()
from voipconfig import metrics
metrics.phone_request("mac_file", "success", 0.02)
metrics.access_log_backlog(int(os.environ["BACKLOG"]))
print(os.getpid())
"""
SCRAPE_IN_A_PROCESS = """
import sys, django
django.setup()
from voipconfig import metrics
if len(sys.argv) > 1:
    metrics.mark_process_dead(int(sys.argv[1]))
sys.stdout.write(metrics.exposition().decode())
"""


def run_python(code: str, directory: Path, *args: str, **env: str) -> str:
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), **env}
    environment["DJANGO_SETTINGS_MODULE"] = "voipconfig.settings_test"
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


@pytest.mark.django_db(transaction=True)
def test_a_scrape_adds_up_every_process(tmp_path):
    """As gunicorn's workers: each counts into its own files in PROMETHEUS_MULTIPROC_DIR, and
    a scrape in any process sums them; a stopped worker's counts stay, its backlog goes."""
    first = run_python(COUNT_IN_A_PROCESS, tmp_path, BACKLOG="5").strip()
    run_python(COUNT_IN_A_PROCESS, tmp_path, BACKLOG="7")

    both = parse(run_python(SCRAPE_IN_A_PROCESS, tmp_path))
    after_one_stopped = parse(run_python(SCRAPE_IN_A_PROCESS, tmp_path, first))

    requests = "voipconfig_phone_requests_total"
    assert value(both, requests, kind="mac_file", outcome="success") == 2
    assert value(both, "voipconfig_phone_request_seconds_count", kind="mac_file") == 2
    assert value(both, "voipconfig_access_log_backlog_rows") == 12
    assert value(after_one_stopped, requests, kind="mac_file", outcome="success") == 2
    assert value(after_one_stopped, "voipconfig_access_log_backlog_rows") == 7


def test_gunicorn_empties_the_directory_when_it_starts_and_drops_a_stopped_workers_gauges(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("DEBUG", "false")  # the configuration refuses to serve with DEBUG
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "counter_1.db").write_bytes(b"from the previous run")
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    config: dict = {"__file__": str(ROOT / "deploy" / "gunicorn.conf.py")}
    exec(compile(Path(config["__file__"]).read_text(), "gunicorn.conf.py", "exec"), config)

    config["on_starting"](server=None)
    emptied = sorted(path.name for path in tmp_path.iterdir())
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    (tmp_path / "counter_4242.db").write_bytes(b"")
    config["child_exit"](server=None, worker=type("Worker", (), {"pid": 4242}))

    assert emptied == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["counter_4242.db"]


# --- the request log ---------------------------------------------------------------------------


@pytest.fixture
def request_lines():
    """What the request log writes with LOG_FORMAT=json, once the operator enabled it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("voipconfig.requests")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    yield stream
    log.removeHandler(handler)
    log.setLevel(logging.NOTSET)


def test_json_request_lines_carry_the_phone_and_the_outcome(client, tenant_a, request_lines):
    client.get(MAC_FILE, headers=tenant_a.phone_headers())
    client.get(MAC_FILE, headers=tenant_a.phone_headers(password="wrong"))

    lines = [json.loads(line) for line in request_lines.getvalue().splitlines()]

    assert [(line["mac"], line["outcome"], line["status"]) for line in lines] == [
        ("805ec0aaaa01", "success", 200),
        ("805ec0aaaa01", "wrong_credentials", 401),
    ]
    first = lines[0]
    assert first["organisation"] == "alpha"
    assert first["kind"] == "mac_file"
    assert first["logger"] == "voipconfig.requests"
    assert first["level"] == "DEBUG"
    assert first["duration_ms"] >= 0
    assert first["message"] == f"GET {MAC_FILE} 200 success"


def test_by_default_phone_requests_write_no_log_line(client, tenant_a):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    try:
        client.get(MAC_FILE, headers=tenant_a.phone_headers())
    finally:
        logging.getLogger().removeHandler(handler)

    assert not logging.getLogger("voipconfig.requests").isEnabledFor(logging.DEBUG)
    assert MAC_FILE not in stream.getvalue()


def test_log_format_json_makes_every_line_a_json_object(tmp_path):
    code = "import django, logging; django.setup(); logging.getLogger('x.y').warning('hi %s', 1)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **os.environ,
            "LOG_FORMAT": "json",
            "DJANGO_SETTINGS_MODULE": "voipconfig.settings_test",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    (line,) = result.stderr.splitlines()
    entry = json.loads(line)
    assert (entry["level"], entry["logger"], entry["message"]) == ("WARNING", "x.y", "hi 1")
    assert entry["time"].endswith("+00:00")
