"""`rps_sync`'s exit status is a function of the state after the run (0 in sync, 1 needs
someone, 2 RPS unavailable), each problem is said once, and an unavailable RPS stops the run
at its first unanswered call. Through call_command, and through a real `manage.py` process
for what only a process shows: its exit status, and what the logging configuration prints.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from rps import wording
from rps.models import RpsDeviceState
from tests.factories import make_device, make_organisation
from tests.rps.fake_rps import KEY_ID, SECRET

ROOT = Path(__file__).resolve().parents[2]
Status = RpsDeviceState.Status
THEIRS = "805ec0ee0001"


def run(*args: str) -> tuple[int, str, str]:
    """The command's exit status (as `manage.py` would exit), stdout and stderr."""
    out, err = StringIO(), StringIO()
    try:
        call_command("rps_sync", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue() + f"CommandError: {exc}\n"
    return 0, out.getvalue(), err.getvalue()


def run_json(*args: str) -> tuple[int, dict]:
    code, out, _ = run("--json", *args)
    return code, json.loads(out)


def closed_port_url() -> str:
    with socket.socket() as sock:  # a port nothing listens on once this is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def three_organisations(db):
    organisations = [make_organisation(slug) for slug in ("alpha", "bravo", "charlie")]
    for organisation in organisations:
        for _ in range(3):
            make_device(organisation)
    return organisations


@pytest.fixture
def owned_by_another(fake_rps, db):
    """alpha has three phones and one whose MAC another RPS customer registered."""
    alpha = make_organisation("alpha")
    for _ in range(3):
        make_device(alpha)
    make_device(alpha, THEIRS)
    fake_rps.seed_device(THEIRS, owner="another-provider")
    return alpha


# --- the exit status follows the state --------------------------------------------------


def test_it_exits_0_when_everything_is_in_sync_and_the_json_says_so(fake_rps, three_organisations):
    code, summary = run_json()

    assert code == 0
    assert (summary["ok"], summary["exit_status"], summary["state"]) == (True, 0, "in_sync")
    assert set(RpsDeviceState.objects.values_list("status", flat=True)) == {Status.REGISTERED}
    assert len(fake_rps.our_devices()) == 9


def test_a_mac_another_customer_owns_exits_1_on_every_run_while_it_persists(
    fake_rps, owned_by_another
):
    runs = [run_json() for _ in range(3)]

    for code, summary in runs:
        assert code == 1
        assert (summary["ok"], summary["exit_status"], summary["state"]) == (
            False,
            1,
            "needs_attention",
        )
        [error] = summary["errors"]
        assert (error["mac"], error["kind"]) == (THEIRS, "owned_by_other")
    assert fake_rps.calls_to("device/checkMac") and runs[2][1]["calls"] == 0  # not asked again

    del fake_rps.devices[THEIRS]  # released; someone checks it again from the admin
    call_command("rps_sync", "--full", stdout=StringIO(), stderr=StringIO())

    code, summary = run_json()
    assert (code, summary["errors"]) == (0, [])
    assert fake_rps.our_devices()[THEIRS]


def test_a_refusal_of_one_phone_exits_1_until_it_is_pushed(fake_rps, db):
    alpha = make_organisation("alpha")
    refused = make_device(alpha).mac
    fake_rps.fail("device/add", 400, key="param.invalid", times=2)

    assert run()[0] == 1
    assert run()[0] == 1  # tried again, refused again: still needs someone

    assert run()[0] == 0
    assert RpsDeviceState.objects.get(mac=refused).status == Status.REGISTERED


def test_an_organisation_whose_server_was_refused_is_not_said_to_be_done(
    fake_rps, three_organisations
):
    from rps.desired import server_name

    fake_rps.seed_server(server_name("alpha"), owner="another-provider")

    code, out, err = run()

    assert code == 1
    assert "alpha: needs attention, 3 phone(s), 1 problem(s), listed below" in out
    assert "alpha: done" not in out
    assert "bravo: in sync, 3 phone(s)" in out
    assert err.count("server.name.existed") == 1


def test_a_dry_run_exits_with_the_problems_that_stand(fake_rps, owned_by_another):
    run()
    fake_rps.calls.clear()

    code, out, _ = run("--dry-run")

    assert code == 1
    assert fake_rps.write_calls() == []
    assert "alpha: checked (dry run), 4 phone(s), 1 problem(s)" in out


def test_missing_settings_exit_1_and_the_json_says_why(fake_rps, three_organisations, settings):
    settings.RPS_ACCESS_KEY_SECRET = ""

    code, summary = run_json()

    assert code == 1
    assert (summary["ok"], summary["exit_status"]) == (False, 1)
    [error] = summary["errors"]
    assert error["kind"] == "not_set_up"
    assert error["message"] == wording.NOT_SET_UP
    assert "RPS_ACCESS_KEY_SECRET must be set" in error["detail"]
    assert fake_rps.calls == []


# --- RPS unavailable: exit 2, and the run stops at once ---------------------------------


def test_a_closed_port_exits_2_after_one_call_and_tries_no_other_organisation(
    fake_rps, three_organisations, settings
):
    settings.RPS_API_URL = closed_port_url()

    code, out, err = run()

    assert code == 2
    assert out.startswith(
        "alpha: stopped, RPS unavailable, 3 phone(s)\n"
        "bravo: not tried, RPS unavailable, 3 phone(s)\n"
        "charlie: not tried, RPS unavailable, 3 phone(s)\n"
        "removals: not tried, RPS unavailable\n"
    )
    assert "Connection refused; 3 attempts" in err  # one call: 1 try + RPS_RETRIES (2)
    assert "the run stopped at alpha" in err
    assert "2 organisation(s) not tried" in err
    assert "3 call(s)" in out


def test_a_closed_port_costs_one_calls_retries_however_many_organisations(
    fake_rps, three_organisations, settings
):
    for slug in ("delta", "echo", "foxtrot"):
        make_device(make_organisation(slug))
    settings.RPS_API_URL = closed_port_url()

    code, summary = run_json()

    assert code == 2
    assert summary["calls"] == 3  # 1 + RPS_RETRIES, once for the run, not per organisation
    assert [o["reached"] for o in summary["organisations"]].count("not tried, RPS unavailable") == 6


def test_a_name_that_does_not_resolve_exits_2(fake_rps, three_organisations, settings):
    settings.RPS_API_URL = "http://rps.invalid"  # .invalid never resolves (RFC 2606)

    code, summary = run_json()

    assert code == 2
    [error] = summary["errors"]
    assert error["kind"] == "rps_unreachable"
    assert "rps.invalid" in error["detail"]


def test_a_hanging_rps_exits_2_after_one_call_and_one_retry_of_its_timeout(
    fake_rps, three_organisations, settings
):
    settings.RPS_READ_TIMEOUT = 0.2
    settings.RPS_RETRIES = 4
    fake_rps.latency = 1.0  # every answer comes too late

    started = time.monotonic()
    code, summary = run_json()
    seconds = time.monotonic() - started
    fake_rps.wait_idle()

    assert code == 2
    assert len(fake_rps.calls) == 2  # a timeout is tried once more, not RPS_RETRIES times
    assert seconds < 3  # 2 x 0.2 s, where every organisation's retries took 3 x 5 x 0.2 s
    assert "did not answer in 0.2 s" in summary["errors"][0]["detail"]


def test_a_5xx_exits_2_and_leaves_the_phone_pending_for_the_next_run(fake_rps, three_organisations):
    fake_rps.fail("server/add", 503, times=3)

    code, _ = run_json()

    assert code == 2
    assert len(fake_rps.calls) == 4  # server/list to adopt, then server/add 1 + 2 retries
    assert fake_rps.servers == {}
    assert run_json()[0] == 0  # RPS is back: the next run does everything
    assert len(fake_rps.our_devices()) == 9


def test_a_refused_key_exits_2_as_refused(fake_rps, three_organisations, settings):
    settings.RPS_ACCESS_KEY_SECRET = "not-the-secret"

    code, summary = run_json()

    assert code == 2
    assert summary["state"] == "rps_unavailable"
    [error] = summary["errors"]
    assert error["kind"] == "rps_refused_access"
    assert "RPS_ACCESS_KEY_SECRET" in error["detail"]
    assert len(fake_rps.calls) == 1


def test_a_problem_of_an_organisation_not_tried_is_still_reported(
    fake_rps, owned_by_another, settings
):
    run()
    make_device(make_organisation("aardvark"))  # before alpha: the run stops there
    settings.RPS_API_URL = closed_port_url()

    code, summary = run_json()

    assert code == 2  # RPS unavailable wins over 1
    assert [(o["name"], o["reached"]) for o in summary["organisations"][:2]] == [
        ("aardvark", "stopped, RPS unavailable"),
        ("alpha", "not tried, RPS unavailable"),
    ]
    assert {(e["kind"], e["mac"]) for e in summary["errors"]} == {
        ("rps_unreachable", ""),
        ("owned_by_other", THEIRS),
    }


def test_nothing_to_push_asks_rps_nothing_so_it_exits_0_even_when_rps_is_away(
    fake_rps, three_organisations, settings
):
    run()
    settings.RPS_API_URL = closed_port_url()

    assert run()[0] == 0  # in sync as far as our records go; --full asks RPS
    assert run("--full")[0] == 2


# --- a real process: its exit status, and each problem printed once ---------------------


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rps-cli") / "db.sqlite3"
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        env=_env(path, "http://127.0.0.1:1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return path


class Cli:
    """`manage.py` in a process of its own, on a database file of its own."""

    def __init__(self, database: Path, rps_url: str) -> None:
        self.database, self.rps_url = database, rps_url

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**_env(self.database, self.rps_url), **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def setup(self, code: str) -> None:
        done = self("shell", "-c", code)
        assert done.returncode == 0, done.stderr


def _env(database: Path, rps_url: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("RPS_", "DATABASE_URL"))}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "voipconfig.settings_test",
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{database}",
        "LOG_LEVEL": "INFO",
        "PROVISIONING_URL": "https://provisioning.example.net/",
        "RPS_API_URL": rps_url,
        "RPS_ACCESS_KEY_ID": KEY_ID,
        "RPS_ACCESS_KEY_SECRET": SECRET,
        "RPS_RETRIES": "2",
        "RPS_BACKOFF_SECONDS": "0",
        "RPS_READ_TIMEOUT": "2",
    }


@pytest.fixture
def cli(migrated, tmp_path, fake_rps) -> Cli:
    database = tmp_path / "db.sqlite3"
    shutil.copy(migrated, database)
    command = Cli(database, fake_rps.url)
    command.setup(
        "from tests.factories import make_device, make_organisation\n"
        "for slug in ('alpha', 'bravo'):\n"
        "    organisation = make_organisation(slug)\n"
        "    for _ in range(3):\n"
        "        make_device(organisation)\n"
        f"make_device(organisation, '{THEIRS}')\n"
    )
    return command


def test_a_process_exits_with_the_status_its_json_gives(cli, fake_rps):
    fake_rps.seed_device(THEIRS, owner="another-provider")

    owned = [cli("rps_sync", "--json") for _ in range(2)]
    del fake_rps.devices[THEIRS]
    cli("rps_sync", "--full")
    in_sync = cli("rps_sync", "--json")
    unreachable = cli("rps_sync", "--json", "--full", RPS_API_URL=closed_port_url())

    codes = [done.returncode for done in (*owned, in_sync, unreachable)]
    assert codes == [1, 1, 0, 2]
    for done in (*owned, in_sync, unreachable):
        summary = json.loads(done.stdout)
        assert summary["exit_status"] == done.returncode
        assert summary["ok"] is (done.returncode == 0)


def test_a_process_prints_each_problem_once(cli, fake_rps):
    fake_rps.seed_device(THEIRS, owner="another-provider")

    first, second = cli("rps_sync"), cli("rps_sync")
    dry = cli("rps_sync", "--dry-run")

    for done in (first, second):
        shown = done.stdout + done.stderr
        assert done.returncode == 1
        assert shown.count("80:5e:c0:ee:00:01") == 1, shown
        assert "bravo: needs attention, 4 phone(s), 1 problem(s), listed below" in done.stdout
        assert "alpha: in sync, 3 phone(s)" in done.stdout
    assert "retrying" not in first.stderr
    assert (dry.stdout + dry.stderr).count("80:5e:c0:ee:00:01") == 1


def test_a_process_stops_at_once_when_rps_does_not_answer(cli, fake_rps):
    fake_rps.latency = 1.0

    done = cli("rps_sync", RPS_READ_TIMEOUT="0.2", RPS_RETRIES="4")
    fake_rps.wait_idle()

    assert done.returncode == 2
    assert len(fake_rps.calls) == 2
    assert "alpha: stopped, RPS unavailable" in done.stdout
    assert "bravo: not tried, RPS unavailable" in done.stdout
    assert done.stderr.count("did not answer in 0.2 s") == 1, done.stderr


def test_a_mistyped_option_exits_1_not_2_which_means_rps_unavailable(cli):
    done = cli("rps_sync", "--organisations", "alpha")

    assert done.returncode == 1
    assert "unrecognized arguments" in done.stderr


def test_the_help_documents_the_exit_status(cli):
    done = cli("rps_sync", "--help")

    assert done.returncode == 0
    assert "exit status:\n  0  everything the run covers is in sync." in done.stdout
    assert "\n  1  something needs someone" in done.stdout
    assert "\n  2  RPS unavailable" in done.stdout


def test_a_refusal_no_row_keeps_counts_for_its_organisation_and_exits_1(
    fake_rps, three_organisations
):
    fake_rps.fail("server/list", 400, key="param.invalid")  # alpha's server look-up

    code, out, err = run()

    assert code == 1
    assert "alpha: needs attention, 3 phone(s), 1 problem(s), listed below" in out
    assert "bravo: in sync, 3 phone(s)" in out
    assert "alpha: RPS refused POST server/list: param.invalid" in err
