from __future__ import annotations

import pytest


@pytest.fixture
def spool_dir(settings, tmp_path):
    """The batched access-log writer, with a spool of the test's own."""
    settings.ACCESS_LOG_SPOOL_DIR = tmp_path / "spool"
    settings.ACCESS_LOG_FLUSH_SECONDS = 0.05
    settings.ACCESS_LOG_BATCH_SIZE = 50
    settings.ACCESS_LOG_MAX_PENDING = 1000
    return settings.ACCESS_LOG_SPOOL_DIR
