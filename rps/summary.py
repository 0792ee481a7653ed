"""What one RPS sync did and what stands after it: counts, the actions written, each problem
once, a line per organisation, and the exit status that follows from them.

The exit status is a function of the state after the run (docs/architecture.md, "Yealink
RPS"): 2 when this run found RPS unavailable (no answer, a timeout, a 5xx or rate limit after
the retries, or our key or signature refused), else 1 when something needs someone (the stored
state of the phones and servers the run covers, so a problem that persists keeps saying so on
every run), else 0: everything the run covers is in sync.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

from django.utils.translation import ngettext

from devices.mac import format_mac
from rps import wording

IN_SYNC = 0
NEEDS_SOMEONE = 1
RPS_UNAVAILABLE = 2
STATES = {IN_SYNC: "in_sync", NEEDS_SOMEONE: "needs_attention", RPS_UNAVAILABLE: "rps_unavailable"}


class Kind(StrEnum):
    RPS_UNREACHABLE = "rps_unreachable"  # no answer, timeout, 5xx or 429 after the retries
    RPS_REFUSED_ACCESS = "rps_refused_access"  # our key or signature
    NOT_SET_UP = "not_set_up"  # the RPS settings are missing
    OWNED_BY_OTHER = "owned_by_other"
    PHONE_REFUSED = "phone_refused"
    REMOVAL_REFUSED = "removal_refused"
    SERVER_REFUSED = "server_refused"
    CALL_REFUSED = "call_refused"  # any other call RPS refused


UNAVAILABLE = {Kind.RPS_UNREACHABLE, Kind.RPS_REFUSED_ACCESS}
REMOVALS = "removals"  # the name of the removal step's Outcome


@dataclass
class Problem:
    organisation: str  # slug, or "" for the whole run
    mac: str  # 12 hex digits, or "" for the organisation
    message: str  # plain words (rps.wording): fit for organisation staff
    detail: str = ""  # what RPS or the network said, settings to check: for the provider
    kind: Kind = Kind.PHONE_REFUSED

    def said(self, for_provider: bool = True) -> str:
        """The detail for the provider (written to stand on its own, as RPS said it), plain
        words otherwise, in the reader's language."""
        if for_provider:
            return self.detail or self.message
        return wording.said(self.message)

    def text(self, for_provider: bool = True) -> str:
        where = " ".join(filter(None, [self.organisation, self.mac and format_mac(self.mac)]))
        said = self.said(for_provider)
        return f"{where}: {said}" if where else said

    def __str__(self) -> str:
        return self.text()


class Reached(StrEnum):
    """How far the run got with an organisation (or the removals)."""

    DONE = "done"
    CHECKED = "checked (dry run)"
    INACTIVE = "inactive, its phones are taken out of RPS"
    STOPPED = "stopped, RPS unavailable"
    NOT_TRIED = "not tried, RPS unavailable"


@dataclass
class Outcome:
    """One organisation (or "removals") after the run: the command prints it as a line."""

    name: str
    reached: Reached
    phones: int = 0
    problems: int = 0

    def line(self) -> str:
        state = self.reached.value
        if self.reached == Reached.DONE and self.name != REMOVALS:
            state = "needs attention" if self.problems else "in sync"
        parts = [state]
        if self.name != REMOVALS:
            parts.append(f"{self.phones} phone(s)")
        if self.problems:
            parts.append(f"{self.problems} problem(s), listed below")
        return f"{self.name}: {', '.join(parts)}"


@dataclass
class SyncSummary:
    dry_run: bool = False
    full: bool = False
    servers_created: int = 0
    servers_updated: int = 0
    servers_unchanged: int = 0
    servers_removed: int = 0
    devices_registered: int = 0
    devices_updated: int = 0  # in RPS already: its own URL and credentials (and server) pushed
    devices_moved: int = 0
    devices_removed: int = 0
    devices_unchanged: int = 0
    devices_failed: int = 0
    devices_owned_by_other: int = 0
    calls: int = 0
    write_calls: int = 0
    seconds: float = 0.0
    errors: list[Problem] = field(default_factory=list)  # each problem once; they decide the exit
    notices: list[Problem] = field(default_factory=list)  # worth saying, needs no one
    actions: list[str] = field(default_factory=list)  # what was (or would be) written
    organisations: list[Outcome] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        if any(problem.kind in UNAVAILABLE for problem in self.errors):
            return RPS_UNAVAILABLE
        return NEEDS_SOMEONE if self.errors else IN_SYNC

    @property
    def ok(self) -> bool:
        return self.exit_status == IN_SYNC

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.update(ok=self.ok, exit_status=self.exit_status, state=STATES[self.exit_status])
        return data

    def headline(self) -> str:
        """One paragraph of counts, for the command's last line and the admin message."""
        verb = "Dry run, nothing written; would have" if self.dry_run else "RPS sync"
        return (
            f"{verb}: servers {self.servers_created} created, {self.servers_updated} updated, "
            f"{self.servers_unchanged} unchanged, {self.servers_removed} removed; devices "
            f"{self.devices_registered} registered, {self.devices_updated} updated, "
            f"{self.devices_moved} moved, {self.devices_removed} removed, "
            f"{self.devices_unchanged} unchanged, "
            f"{self.devices_failed} failed, {self.devices_owned_by_other} owned by another "
            f"customer. {self.calls} call(s), {self.write_calls} write(s), {self.seconds:.1f} s."
        )

    def verdict(self, where: str = "listed above") -> str:
        """Why the exit status is not 0, in a sentence (the command's CommandError)."""
        if self.exit_status == RPS_UNAVAILABLE:
            skipped = sum(
                outcome.reached == Reached.NOT_TRIED and outcome.name != REMOVALS
                for outcome in self.organisations
            )
            return (
                f"RPS sync stopped: RPS unavailable ({where}); {skipped} organisation(s) not "
                "tried. What was done is recorded; the next run goes on from there."
            )
        if any(problem.kind == Kind.NOT_SET_UP for problem in self.errors):
            return f"RPS sync not run: RPS is not set up ({where})."
        rest = "" if self.dry_run else "; the rest is in sync"
        return f"RPS sync: {len(self.errors)} problem(s) need someone ({where}){rest}."

    def problem_lines(
        self, problems: list[Problem], limit: int | None = None, for_provider: bool = True
    ) -> list[str]:
        """One line per organisation and text; the MACs that share it are listed."""
        groups: dict[tuple[str, str], list[str]] = {}
        for problem in problems:
            key = (problem.organisation, problem.said(for_provider))
            groups.setdefault(key, []).append(problem.mac)
        lines = [
            _group_line(organisation, said, macs) for (organisation, said), macs in groups.items()
        ]
        if limit is None or len(lines) <= limit:
            return lines
        rest = len(lines) - limit
        more = ngettext("... and %(count)d more", "... and %(count)d more", rest)
        return [*lines[:limit], more % {"count": rest}]


def _group_line(organisation: str, said: str, macs: list[str]) -> str:
    shown = [format_mac(mac) for mac in macs if mac]
    if len(shown) <= 1:
        return Problem(organisation, macs[0], said).text()
    listed = ", ".join(shown[:10])
    if len(shown) > 10:
        rest = len(shown) - 10
        listed += ngettext(" and %(count)d more", " and %(count)d more", rest) % {"count": rest}
    text = ngettext(
        "%(count)d phone: %(said)s (%(listed)s)",
        "%(count)d phones: %(said)s (%(listed)s)",
        len(shown),
    ) % {"count": len(shown), "said": said, "listed": listed}
    return Problem(organisation, "", text).text()
