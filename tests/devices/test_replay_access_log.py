"""manage.py replay_access_log: what the spool holds, written by an operator."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from devices.models import AccessLog
from devices.serving import access_log
from devices.serving.spool import Spool
from tests.devices.test_access_log_spool import refused, writer
from tests.devices.test_access_log_writer import row

pytestmark = pytest.mark.django_db(transaction=True)


def leave_behind(tenant, paths: list[str], monkeypatch) -> None:
    """A process that stopped while the database refused its rows."""
    stopping = writer()
    for path in paths:
        stopping.add(row(tenant.device, path))
    with monkeypatch.context() as patched:
        patched.setattr(access_log, "_insert", refused)
        stopping.close(timeout=0)


def replay(*args: str) -> str:
    out = StringIO()
    call_command("replay_access_log", *args, stdout=out)
    return out.getvalue()


def test_it_writes_what_stopped_processes_left(spool_dir, tenant_a, monkeypatch):
    leave_behind(tenant_a, ["/a.cfg", "/b.cfg"], monkeypatch)

    assert "2 row(s) in" in replay("--dry-run")
    assert AccessLog.objects.count() == 0
    assert "Wrote 2 of 2 row(s)" in replay()
    assert AccessLog.objects.count() == 2
    assert "Wrote 0 of 0 row(s)" in replay()  # and only once


def test_it_exits_non_zero_and_keeps_the_rows_while_the_database_refuses(
    spool_dir, tenant_a, monkeypatch
):
    leave_behind(tenant_a, ["/a.cfg"], monkeypatch)
    monkeypatch.setattr(access_log, "_insert", refused)

    with pytest.raises(CommandError, match="1 row\\(s\\) could not be written"):
        replay()
    monkeypatch.undo()
    assert "Wrote 1 of 1" in replay()


def test_it_writes_refused_rows_once_they_can_be_and_keeps_the_rest(spool_dir, tenant_a):
    spool = Spool(spool_dir)
    spool.reject("gone-1-1.00000001", [row(tenant_a.device, "/fine.cfg")])
    spool.reject("gone-1-1.00000002", [{**row(tenant_a.device, "/bad.cfg"), "status_code": -1}])

    with pytest.raises(CommandError, match="1 row\\(s\\) were refused again"):
        replay("--rejected")

    assert list(AccessLog.objects.values_list("path", flat=True)) == ["/fine.cfg"]
    assert "1 refused row(s) in 1 file(s)" in replay("--rejected", "--dry-run")


def test_without_a_spool_there_is_nothing_to_do(settings, tmp_path):
    settings.ACCESS_LOG_SPOOL_DIR = tmp_path / "none"
    assert "nothing to write" in replay()
