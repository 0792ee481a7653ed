"""A large contacts CSV import as a job: confirmed in the admin, written by the worker, all
or nothing (csv_io.import_contacts, one transaction). The file waits in the job's row and is
dropped when the job has run.

The job's words are written in the language of the user who started it (kept in its
arguments), since the worker answers no request of theirs."""

from __future__ import annotations

import logging

from django.contrib.auth.models import User
from django.db import IntegrityError
from django.utils import translation
from django.utils.translation import gettext, gettext_lazy, ngettext, pgettext
from django_tasks import task

from jobs import work
from jobs.models import Job
from organisations.csv_files import CsvFileError, decode
from phonebooks.csv_io import ImportPlan, import_contacts, read_rows
from phonebooks.models import Phonebook

logger = logging.getLogger(__name__)

CHANGED = gettext_lazy(
    "The phonebook changed meanwhile, so nothing was imported; upload the file again."
)
GONE = gettext_lazy("The phonebook was deleted before the import ran, so nothing was imported.")
NO_LONGER_FITS = gettext_lazy(
    "Nothing was imported: the file no longer fits the phonebook; upload it again to see why."
)


def row_count(data: bytes) -> int:
    """The file's contacts (rows below the header); 0 for a file that cannot be read."""
    try:
        return len(read_rows(decode(data))[2])
    except CsvFileError:
        return 0


def queue_import(user: User, book: Phonebook, data: bytes, delete_missing: bool) -> Job:
    rows = row_count(data)
    title = ngettext(
        "Contacts import into %(phonebook)s (%(count)s row)",
        "Contacts import into %(phonebook)s (%(count)s rows)",
        rows,
    ) % {"phonebook": book, "count": f"{rows:,}"}
    job = Job(
        kind=Job.Kind.CONTACTS_IMPORT,
        started_by=user,
        organisation=book.organisation,
        title=title[:200],
        total=rows,
        arguments={
            "phonebook": book.pk,
            "delete_missing": delete_missing,
            "language": translation.get_language(),
        },
        upload=data,
    )
    return work.queue(job, import_contacts_file)


@task()
def import_contacts_file(job_id: int) -> None:
    work.run(job_id, _import_in_language)


def _import_in_language(job: Job, progress: work.Progress) -> tuple[str, str]:
    with translation.override(job.arguments.get("language")):
        return _import(job, progress)


def _import(job: Job, progress: work.Progress) -> tuple[str, str]:
    book = Phonebook.objects.filter(pk=job.arguments["phonebook"]).first()
    if book is None:
        raise work.JobFailed(str(GONE))
    # One transaction: nothing of it shows before all of it is written.
    progress(0, job.total, _checking(job.total))
    try:
        plan = import_contacts(
            book, bytes(job.upload or b""), delete_missing=job.arguments["delete_missing"]
        )
    except (CsvFileError, IntegrityError) as exc:
        logger.warning("Contacts import job %s refused: %s", job.pk, exc, exc_info=True)
        detail = pgettext("provider", "The import was refused: %(error)s") % {"error": exc}
        raise work.JobFailed(str(CHANGED), detail) from exc
    if plan.errors:
        raise work.JobFailed(str(NO_LONGER_FITS), "\n".join(str(error) for error in plan.errors))
    return _summary(book, plan), ""


def _checking(total: int) -> str:
    return ngettext(
        "checking and writing %(count)s contact",
        "checking and writing %(count)s contacts",
        total,
    ) % {"count": f"{total:,}"}


def _summary(book: Phonebook, plan: ImportPlan) -> str:
    said = gettext(
        "Imported into %(phonebook)s: %(created)s created, %(updated)s updated, "
        "%(unchanged)s unchanged, %(removed)s removed."
    ) % {
        "phonebook": book,
        "created": f"{len(plan.create):,}",
        "updated": f"{len(plan.update):,}",
        "unchanged": f"{len(plan.unchanged):,}",
        "removed": f"{len(plan.delete):,}",
    }
    book.refresh_from_db()
    return f"{said} {book.size_warning}".strip()
