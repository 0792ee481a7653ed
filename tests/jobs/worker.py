"""The real worker, run in the test's process until the queue is empty."""

from __future__ import annotations

import signal
from io import StringIO
from unittest import mock

from django.core.management import call_command
from django_tasks_db.management.commands import db_worker

from jobs.models import Job

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)


def run_worker() -> str:
    """`manage.py db_worker --batch`: every queued task, then back; its output."""
    saved = {number: signal.getsignal(number) for number in SIGNALS}
    out = StringIO()
    # The worker drops stale connections between tasks, as a request does; inside a test's
    # transaction that would drop the test's own (PostgreSQL), so as Django's test client
    # does with its requests, the test keeps its connection.
    keep_connection = mock.patch.object(db_worker, "close_old_connections", lambda: None)
    try:
        with keep_connection:
            call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=out)
    finally:  # the worker takes Ctrl-C for its own; give it back to pytest
        for number, handler in saved.items():
            signal.signal(number, handler)
    return out.getvalue()


def job_of(response) -> Job:
    """The job whose page an admin action redirected to."""
    [(url, status)] = response.redirect_chain[-1:]
    assert status == 302, response.redirect_chain
    return Job.objects.get(pk=url.rstrip("/").split("/")[-2])
