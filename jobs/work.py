"""Queueing a job and running it: what the tasks of the other apps share.

The queue is django-tasks' database backend (docs/architecture.md, "Jobs"): a job's row and
its task's row are written in one transaction, so the worker never finds a task without its
job nor a job that was never queued.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from jobs.models import Job

logger = logging.getLogger("jobs")

# The summary of a job that stopped on a bug; translated when written (`stopped`).
STOPPED = gettext_noop(
    "The job stopped before it was done; nothing more was changed. Your provider has been told."
)
# The admin's page reads the progress from the row: at most this often a write per job.
PROGRESS_SECONDS = 0.5

State = Job.State


class JobFailed(Exception):
    """The job could not be done: `summary` in words for staff, `detail` for the provider."""

    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(summary)
        self.summary, self.detail = summary, detail


Work = Callable[[Job, "Progress"], tuple[str, str]]  # (summary, detail)


def queue(job: Job, task: Any) -> Job:
    """Saves the job and queues `task(job.pk)` for the worker, which runs it in the language
    active now (the user's)."""
    job.language = translation.get_language() or ""
    with transaction.atomic():
        job.save()
        job.task_id = str(task.enqueue(job.pk).id)
        job.save(update_fields=["task_id"])
    logger.info("Job %s queued by %s: %s", job.pk, job.started_by, job.title)
    return job


class Progress:
    """What a job's work reports as it goes: how far it is, out of how much, doing what."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.reported = 0.0

    def __call__(self, done: int, total: int, step: str = "") -> None:
        now = time.monotonic()
        if now - self.reported < PROGRESS_SECONDS and done < total:
            return
        self.reported = now
        Job.objects.filter(pk=self.job.pk).update(done=done, total=total, step=step[:200])


def run(job_id: int, work: Work) -> None:
    """Runs `work` for the job and records how it went; a job that fails says so in words,
    with the detail (a traceback, for a bug) for the provider and the log."""
    job = Job.objects.filter(pk=job_id, state=State.QUEUED).first()
    if job is None:
        logger.warning("Job %s is not queued (deleted, or run already); skipped", job_id)
        return
    _mark(job, State.RUNNING, started_at=timezone.now())
    # Its progress and summary in the language of whoever started it: no request says so here.
    with translation.override(job.language or settings.LANGUAGE_CODE):
        _run(job, work)


def _run(job: Job, work: Work) -> None:
    try:
        summary, detail = work(job, Progress(job))
    except JobFailed as exc:
        logger.error("Job %s (%s) failed: %s", job.pk, job.title, exc.detail or exc.summary)
        _fail(job, exc.summary, exc.detail)
    except Exception:
        logger.exception("Job %s (%s) failed", job.pk, job.title)
        _fail(job, stopped(), traceback.format_exc())
    else:
        logger.info("Job %s (%s) done: %s", job.pk, job.title, summary)
        _finish(job, State.DONE, summary, detail)


def stopped() -> str:
    """The summary of a job that stopped on a bug, in the active language."""
    return gettext(STOPPED)


def _fail(job: Job, summary: str, detail: str) -> None:
    """Records the failure and tells the provider (ADMINS), as staff are told it does."""
    _finish(job, State.FAILED, summary, detail)
    mail_admins(f"Job failed: {job.title}", f"{summary}\n\n{detail}", fail_silently=True)


def _finish(job: Job, state: str, summary: str, detail: str) -> None:
    # The uploaded file is not kept past its job; a job done has done all it had to.
    fields: dict[str, Any] = {"summary": summary, "detail": detail, "upload": None}
    if state == State.DONE:
        fields["done"] = F("total")
    _mark(job, state, finished_at=timezone.now(), **fields)


def _mark(job: Job, state: str, **fields: Any) -> None:
    Job.objects.filter(pk=job.pk).update(state=state, **fields)
