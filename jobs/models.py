"""Work that outlasts a web request ("Sync with RPS", a large contacts import), run by the
worker (`manage.py db_worker`, docs/architecture.md "Jobs") and followed in the admin.

A job's `summary` is in plain words that organisation staff may read; its `detail` says what
went wrong in the provider's terms (what RPS said, a traceback), as the log does.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from organisations.models import Organisation


class Job(models.Model):
    class Kind(models.TextChoices):
        RPS_SYNC = "rps_sync", _("Sync with RPS")
        CONTACTS_IMPORT = "contacts_import", _("Contacts import")
        PHONES_IMPORT = "phones_import", _("Phones import")

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    # A job's record goes with its organisation; nothing else refers to it.
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="jobs",
        verbose_name=_("organisation"),
        help_text=_("Empty for the provider's jobs over several organisations."),
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
        verbose_name=_("started by"),
    )
    title = models.CharField(
        _("title"), max_length=200, help_text=_("What the job does, in words.")
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    done = models.PositiveIntegerField(_("done"), default=0)
    total = models.PositiveIntegerField(_("total"), default=0)
    step = models.CharField(
        _("step"), max_length=200, blank=True, help_text=_("What it is doing now.")
    )
    summary = models.TextField(_("summary"), blank=True, help_text=_("How it went, in words."))
    detail = models.TextField(
        _("detail"), blank=True, help_text=_("What went wrong (provider only).")
    )
    # The language of the user who queued it: the worker writes its progress and summary in
    # it (jobs.work.run), outside any request.
    language = models.CharField(
        _("language"),
        max_length=15,
        blank=True,
        help_text=_("The language the job reports in: that of the user who started it."),
    )
    # What the job works on: the organisations and phones of a sync, the phonebook of an
    # import. The uploaded file of an import is kept in `upload` until the job has run.
    arguments = models.JSONField(_("arguments"), default=dict, blank=True)
    upload = models.BinaryField(_("uploaded file"), null=True, blank=True, editable=False)
    task_id = models.CharField(_("task ID"), max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
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
