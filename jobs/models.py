"""Work that outlasts a web request ("Sync with RPS", a large contacts import), run by the
worker (`manage.py db_worker`, docs/architecture.md "Jobs") and followed in the admin.

A job's `summary` is in plain words that organisation staff may read; its `detail` says what
went wrong in the provider's terms (what RPS said, a traceback), as the log does.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from organisations.models import Organisation


class Job(models.Model):
    class Kind(models.TextChoices):
        RPS_SYNC = "rps_sync", "Sync with RPS"
        CONTACTS_IMPORT = "contacts_import", "Contacts import"
        PHONES_IMPORT = "phones_import", "Phones import"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    # A job's record goes with its organisation; nothing else refers to it.
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="jobs",
        help_text="Empty for the provider's jobs over several organisations.",
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
    )
    title = models.CharField(max_length=200, help_text="What the job does, in words.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    step = models.CharField(max_length=200, blank=True, help_text="What it is doing now.")
    summary = models.TextField(blank=True, help_text="How it went, in words.")
    detail = models.TextField(blank=True, help_text="What went wrong (provider only).")
    # What the job works on: the organisations and phones of a sync, the phonebook of an
    # import. The uploaded file of an import is kept in `upload` until the job has run.
    arguments = models.JSONField(default=dict, blank=True)
    upload = models.BinaryField(null=True, blank=True, editable=False)
    task_id = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "-created_at"], name="job_org_created")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("admin:jobs_job_change", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        return 100 * self.done // self.total if self.total else 0
