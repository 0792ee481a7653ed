"""A large phone CSV import as a job: previewed in the admin, written by the worker, all or
nothing (one transaction). The file waits in the job's row and is dropped when it has run;
the worker plans it again first, so a file that no longer fits writes nothing."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils.translation import gettext, gettext_lazy, ngettext
from django_tasks import task

from devices import csv_io
from jobs import work
from jobs.models import Job
from organisations.csv_files import CsvFileError
from organisations.models import Organisation

NO_LONGER_FITS = gettext_lazy(
    "Nothing was imported: the file no longer fits the phones as they are now; upload it "
    "again to see why."
)


def queue_import(user: User, organisation: Organisation | None, text: str, rows: int) -> Job:
    """`organisation`: the staff's own (None: the provider's file, naming organisations)."""
    job = Job(
        kind=Job.Kind.PHONES_IMPORT,
        started_by=user,
        organisation=organisation,
        title=ngettext("Phones import (%(count)s row)", "Phones import (%(count)s rows)", rows)
        % {"count": f"{rows:,}"},
        total=rows,
        arguments={"organisation": organisation.pk if organisation else None},
        upload=text.encode(),
    )
    return work.queue(job, import_phones_file)


@task()
def import_phones_file(job_id: int) -> None:
    work.run(job_id, _import)


def _import(job: Job, progress: work.Progress) -> tuple[str, str]:
    organisation_pk = job.arguments["organisation"]
    organisation = Organisation.objects.filter(pk=organisation_pk).first()
    if organisation_pk is not None and organisation is None:
        raise work.JobFailed(gettext("The organisation was deleted before the import ran."))
    # The provider's file may name any organisation; staff's only their own.
    organisations = Organisation.objects.all() if organisation is None else []
    progress(
        0,
        job.total,
        ngettext(
            "checking and writing %(count)s row", "checking and writing %(count)s rows", job.total
        )
        % {"count": f"{job.total:,}"},
    )
    try:
        with transaction.atomic():  # nothing of it shows before all of it is written
            plan = csv_io.plan_import(
                bytes(job.upload or b"").decode(), organisation, organisations
            )
            if plan.errors or plan.refusal:
                reasons = [str(error) for error in plan.errors] + [plan.refusal or ""]
                raise work.JobFailed(str(NO_LONGER_FITS), "\n".join(filter(None, reasons)))
            csv_io.apply(plan)
    except (CsvFileError, IntegrityError) as exc:
        raise work.JobFailed(str(NO_LONGER_FITS), str(exc)) from exc
    return gettext("Imported. %(summary)s") % {"summary": plan.summary(done=True)}, ""
