"""Keep Yealink RPS true to our database (`manage.py rps_sync` and the admin actions).

For each organisation: make sure its RPS server exists and carries the current URL and the
organisation's credentials, then compare each active phone with what we recorded (or, with
`full`, with what RPS lists) and push the difference. Each phone is registered with our URL
and its own credentials (`desired.device_fields`); a device call carries one password, so new
phones are added and changed ones edited one call each, while moves between servers (which
change nothing of a phone's own) and removals go in batches. Afterwards, remove from RPS what
we pushed once but no longer want (deleted or deactivated phones, inactive organisations).

Every write's outcome is saved right after RPS answered it, so a failure or an abort never
leaves the recorded state claiming more than RPS has. What a crash between RPS's answer and
our save (or a lost answer) hides, the next run finds out: RPS refuses the MAC as existing
and it is settled on its own.

A refusal of one phone or server is recorded and the run goes on. A call RPS leaves
unanswered after the client's retries (no connection, a timeout, a 5xx, rate limited), or a
refusal of our key or signature, stops the run at once: every further call would cost its
retries the same way. The run then says which organisation it stopped in and which it did
not try, and the next run goes on from there. The problems reported, and the exit status,
come from the stored state of everything the run covers (`rps.standing`), so a problem that
persists is reported on every run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from devices.mac import format_mac
from devices.models import Device
from media_assets import ca
from organisations.models import Organisation
from rps import wording
from rps.client import (
    MAX_BATCH,
    PAGE_SIZE,
    RemoteDevice,
    RemoteServer,
    RpsClient,
    RpsConfigError,
    RpsError,
    client_from_settings,
)
from rps.desired import device_fields, device_fingerprint, server_fields, server_fingerprint
from rps.models import RpsDeviceState, RpsServerState
from rps.standing import (
    organisation_problems,
    removal_problems,
    unwanted_states,
    wanted_devices,
    wanted_macs,
)
from rps.summary import (
    REMOVALS,
    STATES,
    UNAVAILABLE,
    Kind,
    Outcome,
    Problem,
    Reached,
    SyncSummary,
)
from voipconfig import metrics

logger = logging.getLogger("rps")

T = TypeVar("T")
Status = RpsDeviceState.Status
Progress = Callable[[int, int, str], None]  # (phones done, phones in all, organisation slug)
Finished = Callable[[Outcome], None]  # an organisation (or the removals) is settled

# Keys that concern single MACs of a batch: the batch is then settled MAC by MAC.
_PER_MAC_KEYS = ("device.mac", "device.not.found", "device.operate.forbidden")
_DEVICE_FIELDS = [
    "device",
    "organisation",
    "server_rps_id",
    "rps_id",
    "fingerprint",
    "status",
    "pushed_at",
    "last_attempt_at",
    "last_error",
    "last_error_detail",
]
OWNED_DETAIL = (
    "device.mac.added.by.other: registered under another RPS account; ask its owner or "
    "Yealink to release it, then 'Sync with RPS' on this phone checks it again"
)


# What a sync did with phones, as SyncSummary counts them (devices_<result>).
DEVICE_RESULTS = (
    "registered",
    "updated",
    "moved",
    "removed",
    "unchanged",
    "failed",
    "owned_by_other",
)


def _count(summary: SyncSummary) -> None:
    """The run in the metrics (voipconfig/metrics.py): its state and what it did per phone."""
    devices = {result: getattr(summary, f"devices_{result}") for result in DEVICE_RESULTS}
    metrics.rps_sync_finished(STATES[summary.exit_status], devices, time.time())


@dataclass
class _Item:
    """A phone we want in RPS, with the state row we keep for its MAC."""

    device: Device
    state: RpsDeviceState
    fields: dict[str, str]  # what RPS should hand it of its own (desired.device_fields)
    remote: RemoteDevice | None = None  # what RPS lists for it (with `full`, or looked up)

    @property
    def mac(self) -> str:
        return self.device.mac

    @property
    def rps_id(self) -> str:
        return self.remote.id if self.remote else self.state.rps_id


@dataclass
class _Plan:
    unchanged: list[_Item] = field(default_factory=list)
    add: list[_Item] = field(default_factory=list)
    edit: list[_Item] = field(default_factory=list)  # in RPS, without its fields as they are now
    move: list[_Item] = field(default_factory=list)  # its fields as they are, on another server
    recheck: list[_Item] = field(default_factory=list)
    owned: list[_Item] = field(default_factory=list)


class _Abort(Exception):
    """Nothing more can succeed (our key or signature was refused, or RPS is not answering);
    the problem is recorded."""


class RpsSync:
    """One run. `macs` limits it to those phones and re-checks them even when another RPS
    customer owned them (someone acted); `full` trusts RPS's lists, not our records."""

    def __init__(
        self,
        client: RpsClient,
        *,
        dry_run: bool = False,
        full: bool = False,
        macs: Iterable[str] | None = None,
        progress: Progress | None = None,
        finished: Finished | None = None,
    ) -> None:
        self.client = client
        self.dry_run = dry_run
        self.full = full
        self.macs = set(macs) if macs is not None else None
        self.progress = progress or (lambda done, total, what: None)
        self.finished = finished or (lambda outcome: None)
        self.summary = SyncSummary(dry_run=dry_run, full=full)
        self.certificate_url = ""
        self.remote_servers: dict[str, RemoteServer] | None = None
        self.remote_devices: dict[str, RemoteDevice] | None = None
        self.listed: dict[str, RemoteDevice] | None = None  # our devices, listed for their ids
        self.listing_tried = False
        self.step = ""  # the organisation (or step) under way, for the report of a stop
        self.step_errors = 0  # problems recorded before it began
        self.phones: dict[int, int] = {}  # wanted phones by organisation id
        self.done = self.total = 0

    def run(self, organisations: Iterable[Organisation] | None = None) -> SyncSummary:
        """All organisations when None; only the given ones (and their phones) otherwise."""
        started = time.monotonic()
        everything = organisations is None and self.macs is None
        selected = list(Organisation.objects.all() if organisations is None else organisations)
        try:
            self._run(selected, everything)
        except _Abort:  # _guard has recorded why
            self._settle_the_rest(selected, everything)
        self.summary.calls = self.client.calls
        self.summary.write_calls = self.client.write_calls
        self.summary.seconds = round(time.monotonic() - started, 3)
        if not self.summary.dry_run:
            _count(self.summary)
        return self.summary

    def _run(self, selected: list[Organisation], everything: bool) -> None:
        self.certificate_url = ca.ca_certificate_url()
        self.phones = self._count_phones(selected)
        self.total = sum(self.phones.values())
        if self.full:
            self._begin("listing what RPS has")
            self._guard(self._load_remote)
            if self.remote_devices is None:
                raise _Abort  # without RPS's lists a full sync would guess
        for organisation in selected:
            self._begin(organisation.slug)
            self._guard(partial(self._sync_organisation, organisation), org=organisation)
            self._finish(organisation, self._reached(organisation))
        self._begin(REMOVALS)
        self._guard(lambda: self._remove_unwanted(None if everything else selected))
        if everything:
            self._guard(self._remove_orphan_servers)
        self._finish_removals(selected, everything, Reached.DONE)
        self.progress(self.total, self.total, REMOVALS)

    def _count_phones(self, selected: list[Organisation]) -> dict[int, int]:
        counts = self._wanted(selected).values("organisation").annotate(n=Count("pk"))
        return {row["organisation"]: row["n"] for row in counts}

    def _reached(self, organisation: Organisation) -> Reached:
        if not organisation.is_active:
            return Reached.INACTIVE
        return Reached.CHECKED if self.dry_run else Reached.DONE

    def _settle_the_rest(self, selected: list[Organisation], everything: bool) -> None:
        """After a stop: the organisation under way stopped, the others were not tried; what
        they stand at is reported all the same (a persisting problem stays one)."""
        settled = {outcome.name for outcome in self.summary.organisations}
        for organisation in selected:
            if organisation.slug not in settled:
                stopped = organisation.slug == self.step
                self._finish(organisation, Reached.STOPPED if stopped else Reached.NOT_TRIED)
        if REMOVALS not in settled:
            reached = Reached.STOPPED if self.step == REMOVALS else Reached.NOT_TRIED
            self._finish_removals(selected, everything, reached)

    def _finish(self, organisation: Organisation, reached: Reached) -> None:
        problems = organisation_problems(organisation, self.macs)
        phones = self.phones.get(organisation.pk, 0)
        self._outcome(Outcome(organisation.slug, reached, phones), problems)

    def _finish_removals(
        self, selected: list[Organisation], everything: bool, reached: Reached
    ) -> None:
        problems = removal_problems(None if everything else selected, self.macs)
        self._outcome(Outcome(REMOVALS, reached), problems)

    def _outcome(self, outcome: Outcome, stored: list[Problem]) -> None:
        """The step's problems: what the stored state says, and the refusals of this run
        that no row keeps (a server look-up, a server deletion), recorded since `_begin`.
        RPS being unavailable is the run's problem, which the outcome says in words."""
        self.summary.errors += stored
        recorded = self.summary.errors[self.step_errors :]
        outcome.problems = sum(problem.kind not in UNAVAILABLE for problem in recorded)
        self.summary.organisations.append(outcome)
        self.finished(outcome)
        self.step_errors = len(self.summary.errors)

    def _begin(self, step: str) -> None:
        self.step, self.step_errors = step, len(self.summary.errors)

    def _wanted(self, selected: list[Organisation]) -> QuerySet[Device]:
        devices = wanted_devices().filter(organisation__in=selected)
        return devices if self.macs is None else devices.filter(mac__in=self.macs)

    def _advance(self, count: int, organisation: Organisation) -> None:
        if count:
            self.done = min(self.done + count, self.total)
            self.progress(self.done, self.total, organisation.slug)

    def _guard(self, step: Callable[[], None], org: Organisation | None = None) -> None:
        """A refusal in one step is reported and the next step runs; RPS unavailable (no
        answer after the retries, or our key refused) stops the run."""
        try:
            step()
        except RpsError as exc:
            if exc.stops_run:
                self._error(self._unavailable(exc))
                raise _Abort from exc
            where = org.slug if org else ""
            self._error(Problem(where, "", wording.CALL_REFUSED, _detail(exc), Kind.CALL_REFUSED))

    def _unavailable(self, exc: RpsError) -> Problem:
        if exc.is_auth:
            detail = (
                f"RPS refused our access key or signature: {exc}. Check RPS_ACCESS_KEY_ID and "
                "RPS_ACCESS_KEY_SECRET (and the clock of this server); nothing more was sent"
            )
            return Problem("", "", wording.REFUSED_ACCESS, detail, Kind.RPS_REFUSED_ACCESS)
        detail = f"{_detail(exc)}; the run stopped at {self.step or 'its start'}"
        return Problem("", "", wording.UNREACHABLE, detail, Kind.RPS_UNREACHABLE)

    def _did(self, organisation: str, text: str) -> None:
        """One write action, done (or, in a dry run, planned). The command prints them and
        the admin logs them: logged here too, they would be said twice."""
        text = f"would {text}" if self.dry_run else text
        text = f"{organisation}: {text}" if organisation else text[0].upper() + text[1:]
        self.summary.actions.append(text)

    def _error(self, problem: Problem) -> None:
        """A problem of this run that the stored state does not keep (see rps.standing)."""
        self.summary.errors.append(problem)

    def _load_remote(self) -> None:
        self.remote_servers = {server.id: server for server in self.client.iter_servers()}
        self.remote_devices = {device.mac: device for device in self.client.iter_devices()}

    # --- one organisation ---------------------------------------------------------------

    def _sync_organisation(self, organisation: Organisation) -> None:
        if not organisation.is_active:
            return  # its phones are refused anyway; the removal step takes them out of RPS
        server_id = self._ensure_server(organisation)  # a failure of its look-up: _guard's
        if server_id is None:
            self._skip_devices(organisation)
            return
        items = self._items(organisation)
        plan = self._plan(items, server_id)
        self._apply(organisation, server_id, plan)

    def _skip_devices(self, organisation: Organisation) -> None:
        # Its server's refusal, stored, is the problem reported (rps.standing).
        count = self._devices(organisation).count()
        self._advance(count, organisation)
        self.summary.devices_failed += count

    def _devices(self, organisation: Organisation) -> QuerySet[Device]:
        devices = Device.objects.filter(organisation=organisation, is_active=True)
        if self.macs is not None:
            devices = devices.filter(mac__in=self.macs)
        fields = ("id", "mac", "organisation_id", "provisioning_password")
        return devices.only(*fields).order_by("mac")

    def _items(self, organisation: Organisation) -> list[_Item]:
        devices = list(self._devices(organisation))
        states = _states_by_mac([device.mac for device in devices])
        items = [_item(device, states.get(device.mac)) for device in devices]
        # A phone RPS left unanswered last time goes last: if RPS keeps failing on that one
        # call, the run stops there, and the phones after it would never get their turn.
        return sorted(items, key=lambda item: _unanswered_before(item.state))

    # --- the server -----------------------------------------------------------------------

    def _ensure_server(self, organisation: Organisation) -> str | None:
        """The RPS id of the organisation's server, created or edited as needed; None when
        there is none and it could not be created ("" in a dry run: it would be)."""
        state = _server_state(organisation)
        fields = server_fields(organisation, self.certificate_url)
        if self.full and state.rps_id:
            self._check_remote_server(state, fields)
        if not state.rps_id:
            state.rps_id = self._adopt(fields["serverName"])
            state.fingerprint = ""  # adopted: we don't know what it carries
        if not state.rps_id:
            return self._create_server(organisation, state, fields)
        if state.fingerprint != server_fingerprint(fields):
            return self._edit_server(organisation, state, fields)
        self.summary.servers_unchanged += 1
        return state.rps_id

    def _check_remote_server(self, state: RpsServerState, fields: dict[str, str]) -> None:
        remote = (self.remote_servers or {}).get(state.rps_id)
        if remote is None:
            state.rps_id = ""  # deleted in RPS behind our back
        elif (remote.name, remote.url, remote.auth_name, remote.certificate_url) != (
            fields["serverName"],
            fields["url"],
            fields["authName"],
            fields["certificateUrl"],
        ):
            state.fingerprint = ""  # changed in RPS behind our back (the password is not listed)

    def _adopt(self, name: str) -> str:
        """The id of a server of ours that already has this name (an earlier run that lost
        its answer, or a restored database), or ""."""
        if self.remote_servers is not None:
            servers: Iterable[RemoteServer] = self.remote_servers.values()
        else:
            servers, _ = self.client.list_servers(name)
        return next((server.id for server in servers if server.name == name), "")

    def _create_server(
        self, organisation: Organisation, state: RpsServerState, fields: dict[str, str]
    ) -> str | None:
        self.summary.servers_created += 1
        if self.dry_run:
            self._did(organisation.slug, f"create server {fields['serverName']}")
            return ""
        try:
            state.rps_id = self.client.add_server(fields)
        except RpsError as exc:
            self.summary.servers_created -= 1
            return self._server_refused(organisation, state, fields, exc)
        self._did(organisation.slug, f"create server {fields['serverName']}")
        _save_server(state, fields)
        return state.rps_id

    def _server_refused(
        self,
        organisation: Organisation,
        state: RpsServerState,
        fields: dict[str, str],
        exc: RpsError,
    ) -> str | None:
        if exc.stops_run:
            raise exc  # an add that went through all the same is adopted by the next run
        # Another run may have created it meanwhile: if the server is there after all, use it.
        try:
            state.rps_id = self._adopt(fields["serverName"])
        except RpsError as again:
            if again.stops_run:
                raise
            state.rps_id = ""
        if state.rps_id:
            return self._edit_server(organisation, state, fields)
        detail = (
            f"RPS refused to create server {fields['serverName']!r}: {exc}. Server names are "
            "unique across all RPS customers: if another one has it, set "
            "RPS_SERVER_NAME_PREFIX to something of your own. Its phones are not registered "
            "until it exists"
        )
        _save_server_error(state, fields, wording.SERVER_NOT_CREATED, detail)
        return None

    def _edit_server(
        self, organisation: Organisation, state: RpsServerState, fields: dict[str, str]
    ) -> str | None:
        self.summary.servers_updated += 1
        if self.dry_run:
            self._did(organisation.slug, f"update server {fields['serverName']}")
            return state.rps_id
        try:
            self.client.edit_server(state.rps_id, fields)
        except RpsError as exc:
            self.summary.servers_updated -= 1
            if exc.stops_run:
                raise
            if "not.found" in exc.key or "not.exist" in exc.key:
                state.rps_id = ""  # deleted in RPS behind our back: create it again
                return self._create_server(organisation, state, fields)
            detail = f"RPS refused to update server {fields['serverName']!r}: {exc}"
            _save_server_error(state, fields, wording.SERVER_NOT_UPDATED, detail)
            return state.rps_id  # it exists: its phones can still be registered to it
        self._did(organisation.slug, f"update server {fields['serverName']}")
        _save_server(state, fields)
        return state.rps_id

    # --- the phones -----------------------------------------------------------------------

    def _plan(self, items: list[_Item], server_id: str) -> _Plan:
        plan = _Plan()
        for item in items:
            bucket = self._bucket(item, server_id)
            getattr(plan, bucket).append(item)
        return plan

    def _bucket(self, item: _Item, server_id: str) -> str:
        state = item.state
        if self.remote_devices is not None:
            return self._remote_bucket(item, server_id)
        if server_id and state.fingerprint == _fingerprint(item, server_id):
            return "unchanged"
        if state.status == Status.OWNED_BY_OTHER:
            return "recheck" if self.macs is not None else "owned"
        if not state.fingerprint:
            return "add"
        # Recorded before per-phone credentials, or its password or our URL changed since.
        return "move" if _fields_pushed(item) else "edit"

    def _remote_bucket(self, item: _Item, server_id: str) -> str:
        """With `full`: what RPS lists decides, and the record vouches for the password."""
        assert self.remote_devices is not None
        item.remote = self.remote_devices.get(item.mac)
        if item.remote is None:
            item.state.fingerprint = ""  # RPS does not list it under our account
            return "recheck" if item.state.status == Status.OWNED_BY_OTHER else "add"
        if not (_fields_pushed(item) and _listed_with(item.remote, item.fields)):
            return "edit"
        return "unchanged" if item.remote.server_id == server_id else "move"

    def _apply(self, organisation: Organisation, server_id: str, plan: _Plan) -> None:
        self._keep_unchanged(organisation, plan.unchanged, server_id)
        self._advance(len(plan.unchanged) + len(plan.owned), organisation)
        # Not asked again (someone has to act first); its stored state is reported.
        self.summary.devices_owned_by_other += len(plan.owned)
        if self.dry_run:
            self._plan_only(organisation, plan)
            return
        for item in plan.recheck:
            self._settle(organisation, server_id, item)
            self._advance(1, organisation)
        self._move(organisation, server_id, plan.move)
        self._advance(len(plan.move), organisation)
        self._edit(organisation, server_id, plan.edit)
        self._one_by_one(organisation, server_id, plan.add, self._add, "register")

    def _plan_only(self, organisation: Organisation, plan: _Plan) -> None:
        self.summary.devices_registered += len(plan.add)
        self.summary.devices_updated += len(plan.edit)
        self.summary.devices_moved += len(plan.move)
        self.summary.devices_owned_by_other += len(plan.recheck)
        for verb, items in (("register", plan.add), ("update", plan.edit), ("move", plan.move)):
            if items:
                self._did(organisation.slug, f"{verb} {_phones(items)}")
        if plan.recheck:
            self._did(organisation.slug, f"check again {_phones(plan.recheck)}")
        changed = len(plan.add) + len(plan.edit) + len(plan.move) + len(plan.recheck)
        self._advance(changed, organisation)

    def _keep_unchanged(
        self, organisation: Organisation, items: list[_Item], server_id: str
    ) -> None:
        self.summary.devices_unchanged += len(items)
        changed = [item for item in items if _record_unchanged(item, organisation, server_id)]
        if changed and not self.dry_run:
            _save(changed)

    def _one_by_one(
        self,
        organisation: Organisation,
        server_id: str,
        items: list[_Item],
        push: Callable[[Organisation, str, _Item], bool],
        verb: str,
    ) -> None:
        """A call per phone (each has a password of its own, and a device call carries one),
        each answer saved as it comes; what was done is said a batch of phones at a time,
        the progress phone by phone (the job's page follows it)."""
        for chunk in _batches(items):
            done: list[_Item] = []
            try:
                for item in chunk:
                    if push(organisation, server_id, item):
                        done.append(item)
                    self._advance(1, organisation)
            finally:  # said even when the run stops halfway (RPS stopped answering)
                if done:
                    self._did(organisation.slug, f"{verb} {_phones(done)}")

    def _add(self, organisation: Organisation, server_id: str, item: _Item) -> bool:
        def add() -> str:
            ids = self.client.add_devices([item.mac], server_id, item.fields, organisation.slug)
            return ids.get(item.mac, "")

        return self._push(organisation, server_id, item, add, "devices_registered")

    def _edit_one(self, organisation: Organisation, server_id: str, item: _Item) -> bool:
        def edit() -> str:
            self.client.edit_device(item.rps_id, server_id, item.fields, organisation.slug)
            return item.rps_id

        return self._push(organisation, server_id, item, edit, "devices_updated")

    def _push(
        self,
        organisation: Organisation,
        server_id: str,
        item: _Item,
        write: Callable[[], str],
        outcome: str,
    ) -> bool:
        """One phone's write (it returns the RPS id); True when RPS took it."""
        try:
            rps_id = write()
        except RpsError as exc:
            self._batch_failed(organisation, server_id, [item], exc, None)
            return False
        _record_registered(item, organisation, server_id, rps_id)
        _save([item])
        setattr(self.summary, outcome, getattr(self.summary, outcome) + 1)
        return True

    def _edit(self, organisation: Organisation, server_id: str, items: list[_Item]) -> None:
        located = self._locate(organisation, server_id, items)
        self._advance(len(items) - len(located), organisation)
        self._one_by_one(organisation, server_id, located, self._edit_one, "update")

    def _move(self, organisation: Organisation, server_id: str, items: list[_Item]) -> None:
        ready = []
        for item in self._locate(organisation, server_id, items):
            if item.remote is not None and item.remote.server_id == server_id:
                self._keep_unchanged(organisation, [item], server_id)  # there already
            else:
                ready.append(item)
        for batch in _batches(ready):
            self._move_batch(organisation, server_id, batch)

    def _locate(
        self, organisation: Organisation, server_id: str, items: list[_Item]
    ) -> list[_Item]:
        """Those of the items whose RPS id we know or find (an edit and a move need it); the
        others are settled on their own. Many unknown ids are found by listing all our devices
        once (a call per 100) rather than one look-up each."""
        missing = sum(not item.rps_id for item in items)
        if missing and not self.listing_tried and missing > self._pages_to_list():
            self._list_ours()
        return [
            item for item in items if item.rps_id or self._look_up(organisation, server_id, item)
        ]

    def _pages_to_list(self) -> int:
        ours = RpsDeviceState.objects.exclude(status__in=[Status.REMOVED, Status.OWNED_BY_OTHER])
        return ours.count() // PAGE_SIZE + 1

    def _list_ours(self) -> None:
        self.listing_tried = True
        try:
            self.listed = {device.mac: device for device in self.client.iter_devices()}
        except RpsError as exc:
            if exc.stops_run:
                raise
            logger.warning(
                "Could not list our devices in RPS (%s); looking them up one by one", exc
            )

    def _look_up(self, organisation: Organisation, server_id: str, item: _Item) -> bool:
        """Finds the phone's RPS id; settles the phone itself when it is not in our account."""
        try:
            remote = (
                self.listed.get(item.mac)
                if self.listed is not None
                else self.client.find_device(item.mac)
            )
        except RpsError as exc:
            self._batch_failed(organisation, server_id, [item], exc, None)
            return False
        if remote is None:
            self._settle(organisation, server_id, item)  # gone from our account: whose is it?
            return False
        item.remote = remote
        return True

    def _move_batch(self, organisation: Organisation, server_id: str, batch: list[_Item]) -> None:
        try:
            self.client.migrate_devices([item.rps_id for item in batch], server_id)
        except RpsError as exc:
            self._batch_failed(organisation, server_id, batch, exc, self._move_batch)
            return
        for item in batch:
            _record_registered(item, organisation, server_id, item.rps_id)
        _save(batch)
        self.summary.devices_moved += len(batch)
        self._did(organisation.slug, f"move {_phones(batch)} to its server")

    def _batch_failed(
        self,
        organisation: Organisation,
        server_id: str,
        batch: list[_Item],
        exc: RpsError,
        again: Callable[[Organisation, str, list[_Item]], None] | None,
    ) -> None:
        """A refusal that concerns single MACs is narrowed down by halving the batch (one
        foreign MAC in 100 costs ~15 calls, not 200) and settled MAC by MAC at the end; any
        other failure leaves the batch as RPS has it, to be retried by the next run (at once
        when RPS did not answer: that stops this run)."""
        if exc.is_auth:
            raise exc
        if not exc.retryable and exc.key.startswith(_PER_MAC_KEYS):
            if len(batch) > 1 and again is not None:
                half = len(batch) // 2
                again(organisation, server_id, batch[:half])
                again(organisation, server_id, batch[half:])
                return
            for item in batch:
                self._settle(organisation, server_id, item)
            return
        for item in batch:
            self._device_failed(organisation, item, exc)
        _save(batch)
        if exc.retryable:
            raise exc

    def _settle(self, organisation: Organisation, server_id: str, item: _Item) -> None:
        """One MAC on its own: ask RPS whose it is, then add or edit it, or leave it."""
        try:
            outcome = self._settle_one(organisation, server_id, item)
        except RpsError as exc:
            if exc.is_auth:
                raise
            self._device_failed(organisation, item, exc)
            _save([item])
            if exc.retryable:
                raise
            return
        setattr(self.summary, outcome, getattr(self.summary, outcome) + 1)
        _save([item])

    def _settle_one(self, organisation: Organisation, server_id: str, item: _Item) -> str:
        existed, ours = self.client.check_mac(item.mac)
        if not existed:
            ids = self.client.add_devices([item.mac], server_id, item.fields, organisation.slug)
            _record_registered(item, organisation, server_id, ids.get(item.mac, ""))
            return "devices_registered"
        if not ours:
            return self._owned_by_other(organisation, item)
        remote = self.client.find_device(item.mac)
        if remote is None:
            raise RpsError("device.not.listed", "RPS says the MAC is ours but does not list it")
        # Ours already (an answer we lost, an earlier install): RPS never shows a password,
        # so what it holds of the phone's own cannot be checked, only pushed.
        self.client.edit_device(remote.id, server_id, item.fields, organisation.slug)
        _record_registered(item, organisation, server_id, remote.id)
        return "devices_updated"

    def _owned_by_other(self, organisation: Organisation, item: _Item) -> str:
        state = item.state
        state.device, state.organisation, state.status = (
            item.device,
            organisation,
            Status.OWNED_BY_OTHER,
        )
        state.fingerprint = state.server_rps_id = state.rps_id = ""
        state.last_error, state.last_error_detail = wording.OWNED_BY_OTHER, OWNED_DETAIL
        state.last_attempt_at = timezone.now()
        return "devices_owned_by_other"

    def _device_failed(self, organisation: Organisation, item: _Item, exc: RpsError) -> None:
        state = item.state
        state.device = item.device
        state.organisation = state.organisation if state.fingerprint else organisation
        state.status = Status.PENDING if exc.retryable else Status.FAILED
        state.last_error = wording.NO_ANSWER if exc.retryable else wording.PHONE_REFUSED
        state.last_error_detail, state.last_attempt_at = _detail(exc), timezone.now()
        self.summary.devices_failed += 1

    # --- removals -------------------------------------------------------------------------

    def _remove_unwanted(self, selected: list[Organisation] | None) -> None:
        states = unwanted_states(selected, self.macs) + self._unknown_remote(selected)
        in_rps = [state for state in states if self._in_rps(state)]
        never_there = [state for state in states if not self._in_rps(state)]
        if never_there and not self.dry_run:
            for state in never_there:  # never reached RPS under our account: nothing to send
                _record_removed(state)
            _save_states(never_there)
        for batch in _batches(in_rps):
            self._remove_batch(batch)

    def _in_rps(self, state: RpsDeviceState) -> bool:
        if self.remote_devices is not None:
            return state.mac in self.remote_devices
        return bool(state.fingerprint) or state.status == Status.PENDING

    def _unknown_remote(self, selected: list[Organisation] | None) -> list[RpsDeviceState]:
        """With `full`: phones RPS lists on our servers that we have no record of and no
        longer want (left behind by a lost answer or a restored database)."""
        if self.remote_devices is None or self.macs is not None:
            return []
        servers = RpsServerState.objects.exclude(rps_id="")
        if selected is not None:
            servers = servers.filter(organisation__in=selected)
        owner = {server.rps_id: server.organisation_id for server in servers}
        candidates = [d for d in self.remote_devices.values() if d.server_id in owner]
        known = _states_by_mac([device.mac for device in candidates])
        wanted = wanted_macs([device.mac for device in candidates])
        found = []
        for device in candidates:
            state = known.get(device.mac) or RpsDeviceState(mac=device.mac)
            if device.mac in wanted or (state.pk and state.status != Status.REMOVED):
                continue  # wanted, or a row the other removal query already covers
            state.organisation_id = owner[device.server_id]
            state.server_rps_id, state.rps_id = device.server_id, device.id
            state.fingerprint = device_fingerprint(device.mac, device.server_id, {})
            state.status = Status.REGISTERED
            found.append(state)
        return found

    def _remove_batch(self, batch: list[RpsDeviceState]) -> None:
        self.summary.devices_removed += len(batch)
        if self.dry_run:
            self._did("", f"remove {_phones(batch)}")
            return
        try:
            self.client.delete_devices([state.mac for state in batch])
        except RpsError as exc:
            self.summary.devices_removed -= len(batch)
            self._removal_failed(batch, exc)
            return
        for state in batch:
            _record_removed(state)
        _save_states(batch)
        self._did("", f"remove {_phones(batch)}")

    def _removal_failed(self, batch: list[RpsDeviceState], exc: RpsError) -> None:
        if exc.is_auth:
            raise exc
        if exc.retryable:
            _removal_not_done(batch, Status.PENDING, wording.NO_ANSWER, exc)
            raise exc  # RPS did not answer: the run stops
        if len(batch) > 1 and exc.key.startswith(_PER_MAC_KEYS):
            for state in batch:
                self._remove_batch([state])
            return
        if len(batch) == 1 and ("not.found" in exc.key or self._not_ours(batch[0].mac)):
            self.summary.devices_removed += 1  # not there under our account: as we wanted
            _record_removed(batch[0])
            _save_states(batch)
            return
        # Stored, and so reported by rps.standing on every run until it is removed.
        _removal_not_done(batch, Status.FAILED, wording.REMOVAL_REFUSED, exc)
        self.summary.devices_failed += len(batch)

    def _not_ours(self, mac: str) -> bool:
        try:
            _, ours = self.client.check_mac(mac)
        except RpsError as exc:
            if exc.stops_run:
                raise
            return False
        return not ours

    def _remove_orphan_servers(self) -> None:
        """Servers of deleted organisations, once none of our phones is left on them."""
        for state in RpsServerState.objects.filter(organisation__isnull=True):
            if state.rps_id and self._server_in_use(state):
                continue
            self.summary.servers_removed += bool(state.rps_id)
            if state.rps_id:
                self._did("", f"delete server {state.server_name} (its organisation is gone)")
            if self.dry_run:
                continue
            try:
                if state.rps_id:
                    self.client.delete_servers([state.rps_id])
            except RpsError as exc:
                if exc.stops_run:
                    raise
                if "not.found" not in exc.key:
                    self.summary.servers_removed -= 1
                    detail = f"could not delete server {state.server_name}: {exc}"
                    kind = Kind.SERVER_REFUSED
                    self._error(Problem("", "", wording.SERVER_NOT_DELETED, detail, kind))
                    continue
            state.delete()

    def _server_in_use(self, state: RpsServerState) -> bool:
        left = RpsDeviceState.objects.filter(server_rps_id=state.rps_id).exclude(
            status=Status.REMOVED
        )
        if self.dry_run:
            return False  # the removal step would have emptied it
        if left.exists():  # their removal is what failed, and is reported
            notice = f"Server {state.server_name} of a deleted organisation still has phones; kept"
            self.summary.notices.append(Problem("", "", notice, kind=Kind.CALL_REFUSED))
            return True
        return False


# --- recording what RPS has -------------------------------------------------------------


def _record_registered(
    item: _Item, organisation: Organisation, server_id: str, rps_id: str
) -> None:
    state, now = item.state, timezone.now()
    state.device, state.organisation, state.server_rps_id = item.device, organisation, server_id
    state.fingerprint = _fingerprint(item, server_id)
    state.rps_id = rps_id or state.rps_id
    state.status, state.last_error, state.last_error_detail = Status.REGISTERED, "", ""
    state.pushed_at = state.last_attempt_at = now


def _record_unchanged(item: _Item, organisation: Organisation, server_id: str) -> bool:
    """Brings the row up to date with what RPS has; True when that changed it."""
    state = item.state
    before = _values(state)
    state.device, state.organisation, state.server_rps_id = item.device, organisation, server_id
    state.fingerprint = _fingerprint(item, server_id)
    state.rps_id = item.rps_id
    state.status, state.last_error, state.last_error_detail = Status.REGISTERED, "", ""
    state.pushed_at = state.pushed_at or timezone.now()
    return state.pk is None or _values(state) != before


def _values(state: RpsDeviceState) -> list[object]:
    return [
        state.device_id,
        state.organisation_id,
        state.server_rps_id,
        state.rps_id,
        state.fingerprint,
        state.status,
        state.last_error,
    ]


def _record_removed(state: RpsDeviceState) -> None:
    state.status, state.last_error, state.last_error_detail = Status.REMOVED, "", ""
    state.fingerprint = state.server_rps_id = state.rps_id = ""
    state.pushed_at = state.last_attempt_at = timezone.now()


def _save(items: list[_Item]) -> None:
    _save_states([item.state for item in items])


def _save_states(states: list[RpsDeviceState]) -> None:
    new = [state for state in states if state.pk is None]
    old = [state for state in states if state.pk is not None]
    if new:
        try:
            with transaction.atomic():
                RpsDeviceState.objects.bulk_create(new)
        except IntegrityError:
            # Another run (an admin action beside the cron job) recorded some of these MACs
            # meanwhile: ours is the newer answer from RPS, so it overwrites theirs.
            pks = dict(
                RpsDeviceState.objects.filter(mac__in=[s.mac for s in new]).values_list("mac", "pk")
            )
            for state in new:
                state.pk = pks.get(state.mac)
            old += [state for state in new if state.pk is not None]
            RpsDeviceState.objects.bulk_create([state for state in new if state.pk is None])
    if len(old) == 1:  # a phone's own write: bulk_update's CASE costs more than the call
        _update_one(old[0])
    elif old:
        RpsDeviceState.objects.bulk_update(old, _DEVICE_FIELDS)


def _update_one(state: RpsDeviceState) -> None:
    fields = [f for f in RpsDeviceState._meta.concrete_fields if f.name in _DEVICE_FIELDS]
    values = {field.attname: getattr(state, field.attname) for field in fields}
    RpsDeviceState.objects.filter(pk=state.pk).update(**values)


def _server_state(organisation: Organisation) -> RpsServerState:
    try:
        return organisation.rps_server
    except RpsServerState.DoesNotExist:
        return RpsServerState(organisation=organisation)


def _save_server(state: RpsServerState, fields: dict[str, str]) -> None:
    state.server_name = fields["serverName"]
    state.fingerprint, state.last_error = server_fingerprint(fields), ""
    state.last_error_detail = ""
    state.pushed_at = state.last_attempt_at = timezone.now()
    state.save()


def _save_server_error(
    state: RpsServerState, fields: dict[str, str], message: str, detail: str
) -> None:
    # The name and id stay those RPS has (none yet when it was never created).
    state.server_name = state.server_name or fields["serverName"]
    state.last_error, state.last_error_detail = message, detail
    state.last_attempt_at = timezone.now()
    state.save()


def _removal_not_done(
    batch: list[RpsDeviceState], status: RpsDeviceState.Status, message: str, exc: RpsError
) -> None:
    for state in batch:
        state.status, state.last_error = status, message
        state.last_error_detail, state.last_attempt_at = f"removal: {_detail(exc)}", timezone.now()
    _save_states(batch)


# --- small helpers ----------------------------------------------------------------------


def _item(device: Device, state: RpsDeviceState | None) -> _Item:
    return _Item(device, state or RpsDeviceState(mac=device.mac), device_fields(device))


def _fingerprint(item: _Item, server_id: str) -> str:
    return device_fingerprint(item.mac, server_id, item.fields)


def _fields_pushed(item: _Item) -> bool:
    """RPS has the phone's fields as they are now (on the server we recorded, which may not
    be the one it should be on)."""
    state = item.state
    return bool(state.server_rps_id) and state.fingerprint == _fingerprint(
        item, state.server_rps_id
    )


def _listed_with(remote: RemoteDevice, fields: dict[str, str]) -> bool:
    """RPS's listing agrees with `fields`, as far as it shows them (never the password)."""
    shown = {"uniqueServerUrl": remote.unique_server_url, "authName": remote.auth_name}
    return all(value is None or value == fields[name] for name, value in shown.items())


def _phones(items: list[_Item] | list[RpsDeviceState]) -> str:
    macs = [format_mac(item.mac) for item in items]
    shown = ", ".join(macs[:3]) + (f", … ({len(macs) - 3} more)" if len(macs) > 3 else "")
    return f"{len(macs)} phone(s): {shown}"


def _chunks(values: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _batches(values: list[T]) -> Iterator[list[T]]:
    return _chunks(values, MAX_BATCH)


def _states_by_mac(macs: list[str]) -> dict[str, RpsDeviceState]:
    states: dict[str, RpsDeviceState] = {}
    for chunk in _chunks(macs, 500):
        states.update({s.mac: s for s in RpsDeviceState.objects.filter(mac__in=chunk)})
    return states


def _detail(exc: RpsError) -> str:
    """What RPS said, for the provider: "RPS refused POST device/add: device.password…"."""
    call = exc.call or "a call"
    if exc.status is None:
        return f"{call}: {exc}" if exc.retryable else f"RPS refused {call}: {exc}"
    return f"RPS answered {call} with {exc}" if exc.retryable else f"RPS refused {call}: {exc}"


def _unanswered_before(state: RpsDeviceState) -> bool:
    return state.status == Status.PENDING and state.last_attempt_at is not None


def run_while_waited_for(
    who: object,
    organisations: Iterable[Organisation],
    macs: set[str] | None = None,
    progress: Progress | None = None,
) -> SyncSummary:
    """A sync that someone waits for (the admin's "Sync with RPS" in the worker, its page
    open; the API's rps-sync in the request): each call to RPS within
    RPS_ADMIN_CALL_SECONDS, and in the application log who ran it, what it wrote and every
    problem in RPS's words. RpsConfigError (logged) when RPS is not set up."""
    try:
        client = client_from_settings(call_seconds=settings.RPS_ADMIN_CALL_SECONDS)
    except RpsConfigError as exc:
        logger.error("Sync with RPS by %s: %s", who, exc)
        raise
    summary = RpsSync(client, macs=macs, progress=progress).run(list(organisations))
    logger.info("Sync with RPS by %s: %s", who, summary.headline())
    for action in summary.actions:
        logger.info("%s", action)
    for problem in summary.errors:
        logger.warning("%s", problem.text(for_provider=True))
    return summary
