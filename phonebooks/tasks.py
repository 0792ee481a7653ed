"""A large contacts CSV import as a job: confirmed in the admin, written by the worker, all
or nothing (csv_io.import_contacts, one transaction). The file waits in the job's row and is
dropped when the job has run."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import IntegrityError
from django_tasks import task

from jobs import work
from jobs.models import Job
from organisations.csv_files import CsvFileError, decode
from phonebooks.csv_io import ImportPlan, import_contacts, read_rows
from phonebooks.models import Phonebook

CHANGED = "The phonebook changed meanwhile, so nothing was imported; upload the file again."
GONE = "The phonebook was deleted before the import ran, so nothing was imported."
NO_LONGER_FITS = (
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
    job = Job(
        kind=Job.Kind.CONTACTS_IMPORT,
        started_by=user,
        organisation=book.organisation,
        title=f"Contacts import into {book} ({rows:,} rows)"[:200],
        total=rows,
        arguments={"phonebook": book.pk, "delete_missing": delete_missing},
        upload=data,
    )
    return work.queue(job, import_contacts_file)


@task()
def import_contacts_file(job_id: int) -> None:
    work.run(job_id, _import)


def _import(job: Job, progress: work.Progress) -> tuple[str, str]:
    book = Phonebook.objects.filter(pk=job.arguments["phonebook"]).first()
    if book is None:
        raise work.JobFailed(GONE)
    # One transaction: nothing of it shows before all of it is written.
    progress(0, job.total, f"checking and writing {job.total:,} contacts")
    try:
        plan = import_contacts(
            book, bytes(job.upload or b""), delete_missing=job.arguments["delete_missing"]
        )
    except (CsvFileError, IntegrityError) as exc:
        raise work.JobFailed(CHANGED, str(exc)) from exc
    if plan.errors:
        raise work.JobFailed(NO_LONGER_FITS, "\n".join(str(error) for error in plan.errors))
    return _summary(book, plan), ""


def _summary(book: Phonebook, plan: ImportPlan) -> str:
    said = (
        f"Imported into {book}: {len(plan.create):,} created, {len(plan.update):,} updated, "
        f"{len(plan.unchanged):,} unchanged, {len(plan.delete):,} removed."
    )
    book.refresh_from_db()
    return f"{said} {book.size_warning}".strip()
