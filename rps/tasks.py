"""'Sync with RPS' as a job: queued by the admin's actions, run by the worker, its progress
on the job's page per organisation and phone (jobs.work)."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import translation
from django.utils.translation import gettext, ngettext, pgettext
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
            # The job's page says how it went in the language of whoever started it.
            "language": translation.get_language() or settings.LANGUAGE_CODE,
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
        with translation.override(job.arguments.get("language")):
            detail = exc.for_provider()
            raise work.JobFailed(gettext(wording.NOT_SET_UP_JOB), detail) from exc
    with translation.override(job.arguments.get("language")):
        stop = next((p for p in summary.errors if p.kind in UNAVAILABLE), None)
        if stop is not None:
            raise work.JobFailed(_stopped(summary, stop.kind), _detail(summary, stop.kind))
        return _summary(summary), _detail(summary)


def _stopped(summary: SyncSummary, kind: Kind) -> str:
    """Why the sync stopped, then the other problems it had found, in plain words."""
    others = [p for p in summary.errors if p.kind not in UNAVAILABLE]
    lines = summary.problem_lines(others, MESSAGE_LINES, for_provider=False)
    return "\n".join([gettext(STOPPED_BY[kind]), *lines])


def _summary(summary: SyncSummary) -> str:
    """The headline and every problem in plain words, for staff (and the provider)."""
    lines = [_headline(summary)]
    lines += summary.problem_lines(summary.errors, MESSAGE_LINES, for_provider=False)
    lines += summary.problem_lines(summary.notices, MESSAGE_LINES, for_provider=False)
    return "\n".join(lines)


def _headline(summary: SyncSummary) -> str:
    """The counts of the run in words (the command says the same in its own headline)."""
    return (
        gettext(
            "RPS sync: servers %(servers_created)d created, %(servers_updated)d updated, "
            "%(servers_unchanged)d unchanged, %(servers_removed)d removed; phones "
            "%(devices_registered)d registered, %(devices_updated)d updated, %(devices_moved)d "
            "moved, %(devices_removed)d removed, %(devices_unchanged)d unchanged, "
            "%(devices_failed)d failed, %(devices_owned_by_other)d owned by another customer."
        )
        % summary.as_dict()
    )


def _detail(summary: SyncSummary, stop: Kind | None = None) -> str:
    """Why the sync stopped, what RPS said of each problem, the calls made and what the
    sync wrote, for the provider."""
    lines = summary.problem_lines(summary.errors) + summary.problem_lines(summary.notices)
    return "\n".join([*_stopped_for_provider(stop), *lines, _calls(summary), *summary.actions])


def _stopped_for_provider(stop: Kind | None) -> list[str]:
    if stop == Kind.RPS_REFUSED_ACCESS:
        said = pgettext(
            "provider",
            "RPS refused our access key or signature: check RPS_ACCESS_KEY_ID and "
            "RPS_ACCESS_KEY_SECRET in .env, and the clock of this server.",
        )
    elif stop == Kind.RPS_UNREACHABLE:
        said = pgettext(
            "provider",
            "RPS gave no answer after the retries (no connection, a timeout, a 5xx or rate "
            "limit): check RPS_API_URL and this server's network. What RPS or the network "
            "said:",
        )
    else:
        return []
    return [said]


def _calls(summary: SyncSummary) -> str:
    calls = ngettext("%(count)d call to RPS", "%(count)d calls to RPS", summary.calls)
    writes = ngettext("%(count)d write", "%(count)d writes", summary.write_calls)
    return pgettext("provider", "%(calls)s, %(writes)s, %(seconds).1f s.") % {
        "calls": calls % {"count": summary.calls},
        "writes": writes % {"count": summary.write_calls},
        "seconds": summary.seconds,
    }


def _macs(macs: list[str] | None) -> set[str] | None:
    return None if macs is None else set(macs)


def _title(organisations: list[Organisation], macs: set[str] | None) -> str:
    """In the language of whoever started it, as the rest of the job's page."""
    names = ", ".join(organisation.name for organisation in organisations[:3])
    if len(organisations) > 3:
        rest = len(organisations) - 3
        names += ngettext(" and %(count)d more", " and %(count)d more", rest) % {"count": rest}
    names = names or gettext("no organisation")
    if macs is None:
        return (gettext("Sync with RPS: %(names)s") % {"names": names})[:200]
    title = ngettext(
        "Sync with RPS: %(names)s (%(count)d phone)",
        "Sync with RPS: %(names)s (%(count)d phones)",
        len(macs),
    )
    return (title % {"names": names, "count": len(macs)})[:200]
