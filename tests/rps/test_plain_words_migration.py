"""Messages stored before they were split into plain words and the provider's detail."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from rps import wording
from rps.models import RpsDeviceState, RpsServerState

BEFORE = [("rps", "0002_device_fingerprint_covers_own_credentials")]
REFUSED = "RPS_ACCESS_KEY_ID must be set (see .env.example); nothing was sent to RPS."
UNREACHABLE = (
    "RPS could not be reached: HTTPConnectionPool(host='127.0.0.1', port=9): Max retries "
    "exceeded (Caused by NewConnectionError('[Errno 111] Connection refused'))"
)


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_stored_messages_into_the_detail_and_leaves_plain_words():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    OldDevice = old.get_model("rps", "RpsDeviceState")
    rows = {
        "805ec0000001": ("owned_by_other", "Registered in RPS by another RPS customer (x)", True),
        "805ec0000002": ("failed", "device.password.invalid (HTTP 400)", True),
        "805ec0000003": ("failed", "removal: device.operate.forbidden (HTTP 403)", True),
        "805ec0000004": ("pending", UNREACHABLE, True),
        "805ec0000005": ("pending", "Not synced yet: set RPS_ACCESS_KEY_ID and …", False),
        "805ec0000006": ("registered", "", True),
    }
    for mac, (status, error, tried) in rows.items():
        OldDevice.objects.create(
            mac=mac,
            status=status,
            last_error=error,
            last_attempt_at="2026-01-01T00:00Z" if tried else None,
        )
    old.get_model("rps", "RpsServerState").objects.create(
        server_name="alpha-123456", last_error=REFUSED
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    shown = dict(RpsDeviceState.objects.values_list("mac", "last_error"))
    assert shown == {
        "805ec0000001": wording.OWNED_BY_OTHER,
        "805ec0000002": wording.PHONE_REFUSED,
        "805ec0000003": wording.REMOVAL_REFUSED,
        "805ec0000004": wording.NO_ANSWER,
        "805ec0000005": wording.NOT_SYNCED,
        "805ec0000006": "",
    }
    details = dict(RpsDeviceState.objects.values_list("mac", "last_error_detail"))
    assert details == {mac: error for mac, (_, error, _) in rows.items()}
    server = RpsServerState.objects.get()
    assert (server.last_error, server.last_error_detail) == (wording.SERVER_NOT_CREATED, REFUSED)
