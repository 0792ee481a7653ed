"""'Sync with RPS' as a job: queued by the admin's actions, run by the worker, its progress
on the job's page per organisation and phone (jobs.work)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import User
from django_tasks import task

from jobs import work
from jobs.models import Job
from organisations.models import Organisation
from rps import wording
from rps.client import RpsConfigError
from rps.summary import UNAVAILABLE, Kind, SyncSummary
from rps.sync import run_while_waited_for

MESSAGE_LINES = 10
STOPPED_BY = {
    Kind.RPS_UNREACHABLE: wording.UNREACHABLE_JOB,
    Kind.RPS_REFUSED_ACCESS: wording.REFUSED_ACCESS_JOB,
}


def queue_sync(
    user: User, organisations: Iterable[Organisation], macs: set[str] | None = None
) -> Job:
    """Queues the sync of these organisations (of these phones only, with `macs`)."""
    selected = list(organisations)
    job = Job(
        kind=Job.Kind.RPS_SYNC,
        started_by=user,
        # One organisation's sync is its staff's to follow; one over several the provider's.
        organisation=selected[0] if len(selected) == 1 else None,
        title=_title(selected, macs),
        arguments={
            "organisations": [organisation.pk for organisation in selected],
            "macs": None if macs is None else sorted(macs),
        },
    )
    return work.queue(job, sync_with_rps)


@task()
def sync_with_rps(job_id: int) -> None:
    work.run(job_id, _sync)


def _sync(job: Job, progress: work.Progress) -> tuple[str, str]:
    wanted = job.arguments["organisations"]
    found = Organisation.objects.in_bulk(wanted)
    organisations = [found[pk] for pk in wanted if pk in found]
    macs = job.arguments.get("macs")
    who = job.started_by or "the worker"
    try:
        summary = run_while_waited_for(who, organisations, _macs(macs), progress=progress)
    except RpsConfigError as exc:
        raise work.JobFailed(wording.NOT_SET_UP_JOB, str(exc)) from exc
    stop = next((p for p in summary.errors if p.kind in UNAVAILABLE), None)
    if stop is not None:
        raise work.JobFailed(_stopped(summary, stop.kind), _detail(summary))
    return _summary(summary), _detail(summary)


def _stopped(summary: SyncSummary, kind: Kind) -> str:
    """Why the sync stopped, then the other problems it had found, in plain words."""
    others = [p for p in summary.errors if p.kind not in UNAVAILABLE]
    lines = summary.problem_lines(others, MESSAGE_LINES, for_provider=False)
    return "\n".join([STOPPED_BY[kind], *lines])


def _summary(summary: SyncSummary) -> str:
    """The headline and every problem in plain words, for staff (and the provider)."""
    lines = [summary.headline()]
    lines += summary.problem_lines(summary.errors, MESSAGE_LINES, for_provider=False)
    lines += summary.problem_lines(summary.notices, MESSAGE_LINES, for_provider=False)
    return "\n".join(lines)


def _detail(summary: SyncSummary) -> str:
    """What RPS said of each problem and what the sync wrote, for the provider."""
    lines = summary.problem_lines(summary.errors) + summary.problem_lines(summary.notices)
    return "\n".join([*lines, *summary.actions])


def _macs(macs: list[str] | None) -> set[str] | None:
    return None if macs is None else set(macs)


def _title(organisations: list[Organisation], macs: set[str] | None) -> str:
    names = ", ".join(organisation.name for organisation in organisations[:3])
    if len(organisations) > 3:
        names += f" and {len(organisations) - 3} more"
    phones = "" if macs is None else f" ({len(macs)} phone{'s' if len(macs) != 1 else ''})"
    return f"Sync with RPS: {names or 'no organisation'}{phones}"[:200]
