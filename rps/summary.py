"""What one RPS sync did: counts, the actions written, and the problems by organisation and MAC."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from devices.mac import format_mac


@dataclass
class Problem:
    organisation: str  # slug, or "" for the whole run
    mac: str  # 12 hex digits, or "" for the organisation
    message: str

    def __str__(self) -> str:
        where = " ".join(filter(None, [self.organisation, self.mac and format_mac(self.mac)]))
        return f"{where or 'RPS'}: {self.message}"


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
    errors: list[Problem] = field(default_factory=list)
    notices: list[Problem] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)  # what was (or would be) written

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["ok"] = self.ok
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

    def problem_lines(self, problems: list[Problem], limit: int | None = None) -> list[str]:
        """One line per organisation and message; the MACs that share it are listed."""
        groups: dict[tuple[str, str], list[str]] = {}
        for problem in problems:
            groups.setdefault((problem.organisation, problem.message), []).append(problem.mac)
        lines = [_group_line(org, message, macs) for (org, message), macs in groups.items()]
        return (
            lines
            if limit is None or len(lines) <= limit
            else [
                *lines[:limit],
                f"... and {len(lines) - limit} more",
            ]
        )


def _group_line(organisation: str, message: str, macs: list[str]) -> str:
    shown = [format_mac(mac) for mac in macs if mac]
    if len(shown) > 1:
        listed = ", ".join(shown[:10]) + (f" and {len(shown) - 10} more" if len(shown) > 10 else "")
        return f"{organisation or 'RPS'}: {len(shown)} phones: {message} ({listed})"
    return str(Problem(organisation, macs[0], message))
