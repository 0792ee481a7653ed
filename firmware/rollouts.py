"""Rollouts in waves: which phones, when a wave opens, when it is done, when it halts.

`start` picks the rollout's phones once: those in its scope (its models, its organisations,
active, not pinned by a target of their own or their organisation's, not holding back, not
in another rollout still under way, not already on the version), in an order fixed by a
hash of the rollout and the MAC (so a wave is a fair sample, and the same phones whatever
the row order), the first `percentage` % of them. Wave k takes them up to its share.

Opening a wave marks its phones offered and saves the rollout, which makes a new config
version: their MAC files then name the image (firmware.targets). A phone is back when its
MAC file was served to it reporting the image's version (`Device.provisioned_firmware`,
written with its visit) after the offer. `evaluate`, run every minute
(`manage.py firmware_rollouts`) and whenever the admin shows a rollout:
- phones no longer its to move (deactivated, another model, pinned by a target, their
  organisation holding back) are marked left: neither waited for nor counted;
- a wave whose phones are all back: the next wave opens (the last: completed);
- a wave past its time: if more than `halt_share` % of its phones that asked since the
  offer (they got the image's URL) are not back, or none is back, the rollout halts and the
  provider is told (mail to ADMINS and an error in the log); a halted rollout offers the
  image to no phone that has not fetched it yet. Otherwise those phones are marked failed,
  the ones that never asked absent, and the next wave opens.
Failed and absent phones keep their offer and count as back whenever they come back, while
the rollout is under way. Each evaluation holds the rollout's row lock (PostgreSQL; SQLite
locks the whole database, so an overlapping run there waits or fails with "locked").
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext

from devices.models import Device
from firmware.models import FirmwareTarget, Rollout, RolloutPhone, RolloutSample

logger = logging.getLogger("voipconfig.firmware")

State = Rollout.State
Phone = RolloutPhone.State
UNDER_WAY = [State.RUNNING, State.PAUSED, State.HALTED]
# A sample is written when the counts change, and at least this often while running.
SAMPLE_EVERY = timedelta(minutes=10)


class RolloutError(Exception):
    """An action the rollout's state does not allow, in words for the admin."""


def _scope(rollout: Rollout) -> Q:
    """The phones (a filter on Device) this rollout may move: of its models and
    organisations, active, not pinned by a target of their own or their organisation's, not
    in an organisation holding back."""
    models = rollout.phone_models
    pinned = FirmwareTarget.objects.filter(model__in=models)
    scope = (
        Q(is_active=True, organisation__is_active=True, model__in=models)
        & ~Q(organisation__firmware_hold_back=True, organisation__firmware_hold_back_allowed=True)
        & ~Q(pk__in=pinned.filter(device__isnull=False).values("device_id"))
        & ~Q(organisation__in=pinned.filter(organisation__isnull=False).values("organisation_id"))
    )
    if rollout.pk and rollout.organisations.exists():
        scope &= Q(organisation__in=rollout.organisations.all())
    return scope


def phones_in_scope(rollout: Rollout) -> QuerySet[Device]:
    """The phones `start` chooses from: in its scope, in no other rollout under way, not
    already reporting its version."""
    busy = RolloutPhone.objects.filter(rollout__state__in=UNDER_WAY).exclude(rollout=rollout)
    return (
        Device.objects.filter(_scope(rollout))
        .exclude(pk__in=busy.values("device_id"))
        .exclude(last_firmware=rollout.image.version)
    )


def _order(rollout_pk: int, mac: str) -> bytes:
    return hashlib.sha256(f"{rollout_pk}:{mac}".encode()).digest()


@transaction.atomic
def start(rollout: Rollout, now: datetime | None = None) -> int:
    """Pick the rollout's phones and open its first wave; the number of phones."""
    rollout = Rollout.objects.select_for_update().get(pk=rollout.pk)
    if rollout.state != State.DRAFT:
        raise RolloutError(
            gettext("This rollout is %(state)s, not a draft.")
            % {"state": rollout.get_state_display().lower()}
        )
    now = now or timezone.now()
    candidates = list(phones_in_scope(rollout).values_list("pk", "mac", "last_firmware"))
    if not candidates:
        raise RolloutError(
            gettext(
                "No phone is in this rollout's scope: none of its models and organisations, "
                "or all pinned by their own targets, holding back, in another rollout, or "
                "already on this version."
            )
        )
    candidates.sort(key=lambda row: _order(rollout.pk, row[1]))
    chosen = candidates[: max(1, round(len(candidates) * rollout.percentage / 100))]
    sizes = rollout.wave_sizes(len(chosen))
    rows, wave = [], 0
    for index, (pk, _mac, running) in enumerate(chosen):
        while index >= sizes[wave]:
            wave += 1
        rows.append(RolloutPhone(rollout=rollout, device_id=pk, wave=wave, from_version=running))
    RolloutPhone.objects.bulk_create(rows, batch_size=2000)
    # A completed rollout keeps offering its image to its phones until a later one moves
    # them on: this one, now. So a phone is offered by one rollout at most.
    RolloutPhone.objects.filter(
        rollout__state=State.COMPLETED, device__in=rollout.phones.values("device_id")
    ).exclude(state=Phone.LEFT).update(state=Phone.LEFT)
    rollout.state, rollout.started_at = State.RUNNING, now
    _open_wave(rollout, 0, now)
    return len(rows)


def _open_wave(rollout: Rollout, wave: int, now: datetime) -> None:
    rollout.phones.filter(wave=wave, state=Phone.WAITING).update(
        state=Phone.OFFERED, offered_at=now
    )
    rollout.wave, rollout.wave_opened_at = wave, now
    rollout.save()  # a new config version: the wave's MAC files name the image
    _sample(rollout, now, force=True)


def evaluate_all(now: datetime | None = None) -> list[Rollout]:
    """Evaluate every rollout under way; the ones that changed state or wave."""
    changed = []
    for rollout in Rollout.objects.filter(state__in=UNDER_WAY).select_related("image"):
        before = (rollout.state, rollout.wave)
        rollout = evaluate(rollout, now)
        if (rollout.state, rollout.wave) != before:
            changed.append(rollout)
    return changed


@transaction.atomic
def evaluate(rollout: Rollout, now: datetime | None = None) -> Rollout:
    """Mark the phones that came back, then open the next wave, complete or halt."""
    now = now or timezone.now()
    rollout = (
        Rollout.objects.select_for_update(of=("self",)).select_related("image").get(pk=rollout.pk)
    )
    if rollout.state not in UNDER_WAY:
        return rollout
    _mark_left(rollout)
    _mark_back(rollout)
    if rollout.state == State.RUNNING:
        _advance(rollout, now)
    _sample(rollout, now)
    return rollout


def _mark_left(rollout: Rollout) -> None:
    """Phones no longer this rollout's to move are not waited for, nor counted."""
    in_scope = Device.objects.filter(_scope(rollout)).values("pk")
    rollout.phones.exclude(state__in=[Phone.UPDATED, Phone.LEFT]).exclude(
        device__in=in_scope
    ).update(state=Phone.LEFT)


def _mark_back(rollout: Rollout) -> None:
    back = rollout.phones.filter(
        state__in=[Phone.OFFERED, Phone.FAILED, Phone.ABSENT],
        device__provisioned_firmware=rollout.image.version,
        device__last_seen_at__gte=F("offered_at"),
    )
    seen = Device.objects.filter(pk=OuterRef("device_id")).values("last_seen_at")[:1]
    RolloutPhone.objects.filter(pk__in=back.values("pk")).update(
        state=Phone.UPDATED, back_at=Subquery(seen)
    )


def wave_counts(rollout: Rollout, wave: int) -> dict[str, int]:
    rows = rollout.phones.filter(wave=wave).values("state").annotate(n=Count("pk"))
    return {row["state"]: row["n"] for row in rows}


def _advance(rollout: Rollout, now: datetime, force: bool = False) -> None:
    """Open the next wave when this one is done; halt when it went wrong. `force`: the
    provider resumed a halted rollout, so the wave is done with whatever came back."""
    counts = wave_counts(rollout, rollout.wave)
    pending = counts.get(Phone.OFFERED, 0)
    assert rollout.wave_opened_at is not None
    over = now >= rollout.wave_opened_at + timedelta(minutes=rollout.wave_minutes)
    if pending and not (over or force):
        return
    if pending:
        offered = rollout.phones.filter(wave=rollout.wave, state=Phone.OFFERED)
        # Asked since the offer: it was sent the image's URL (a pause changes nothing here).
        asked = offered.filter(device__last_seen_at__gte=F("offered_at"))
        not_back = asked.count()
        back = counts.get(Phone.UPDATED, 0)
        seen = not_back + back
        RolloutPhone.objects.filter(pk__in=asked.values("pk")).update(state=Phone.FAILED)
        if not force and (not back or not_back * 100 > rollout.halt_share * seen):
            _halt(rollout, not_back, seen, now)  # no phone back: nothing says it works
            return  # the phones that never asked stay offered, for a resume
        offered.update(state=Phone.ABSENT)  # the rest: never asked
    if (
        rollout.wave + 1 < len(rollout.wave_shares)
        and rollout.phones.filter(wave__gt=rollout.wave).exists()
    ):
        _open_wave(rollout, rollout.wave + 1, now)
        logger.info("firmware rollout %s: wave %d opened", rollout, rollout.wave + 1)
    else:
        rollout.state, rollout.finished_at = State.COMPLETED, now
        rollout.save()
        logger.info("firmware rollout %s: completed", rollout)


def halt_reason(rollout: Rollout, not_back: int, seen: int) -> str:
    """Why the rollout halts, in the active language."""
    facts = {
        "wave": rollout.wave + 1,
        "seen": seen,
        "not_back": not_back,
        "share": f"{not_back * 100 / seen:.0f}" if seen else "0",
        "version": rollout.image.version,
        "minutes": rollout.wave_minutes,
        "halt_share": rollout.halt_share,
    }
    if seen and not_back == seen:
        text = gettext(
            "Wave %(wave)d: none of the %(seen)d phones that asked for their file came back "
            "on %(version)s within %(minutes)d minutes."
        )
    elif seen:
        text = gettext(
            "Wave %(wave)d: %(not_back)d of the %(seen)d phones that asked for their file "
            "(%(share)s %%) did not come back on %(version)s within %(minutes)d minutes; "
            "the rollout halts above %(halt_share)d %%."
        )
    else:
        text = gettext(
            "Wave %(wave)d: none of its phones asked for its file within %(minutes)d "
            "minutes, so nothing shows %(version)s works."
        )
    return text % facts


def _halt(rollout: Rollout, not_back: int, seen: int, now: datetime) -> None:
    rollout.state = State.HALTED
    rollout.halt_reason = halt_reason(rollout, not_back, seen)  # the admin's language
    rollout.save()
    with translation.override(settings.LANGUAGE_CODE):  # the log and the mail: English
        reason = halt_reason(rollout, not_back, seen)
    logger.error("firmware rollout %s halted: %s", rollout, reason)
    # Told once the halt is committed: a rolled-back evaluation sends nothing.
    transaction.on_commit(
        lambda: mail_admins(
            f"Firmware rollout halted: {rollout}",
            f"{reason}\n\nNo further wave opens until you resume the rollout or "
            "roll it back in the admin. The phones that did not come back are listed on the "
            "rollout's page.",
            fail_silently=True,
        )
    )


@transaction.atomic
def pause(rollout: Rollout) -> None:
    rollout = Rollout.objects.select_for_update().get(pk=rollout.pk)
    if rollout.state != State.RUNNING:
        raise RolloutError(gettext("Only a running rollout can be paused."))
    rollout.state = State.PAUSED
    rollout.save()


@transaction.atomic
def resume(rollout: Rollout, now: datetime | None = None) -> None:
    """A paused rollout goes on with its wave, from now; a halted one opens its next wave
    (the provider has looked at the phones that did not come back)."""
    now = now or timezone.now()
    rollout = (
        Rollout.objects.select_for_update(of=("self",)).select_related("image").get(pk=rollout.pk)
    )
    if rollout.state == State.PAUSED:
        rollout.state, rollout.wave_opened_at = State.RUNNING, now
        rollout.save()
    elif rollout.state == State.HALTED:
        rollout.state, rollout.halt_reason = State.RUNNING, ""
        rollout.save()
        _mark_left(rollout)
        _mark_back(rollout)
        _advance(rollout, now, force=True)  # the halted wave is done with
    else:
        raise RolloutError(gettext("Only a paused or halted rollout can be resumed."))


@transaction.atomic
def roll_back(rollout: Rollout, now: datetime | None = None) -> None:
    """Its phones lose its offer: each gets its target from before (so the ones that
    updated go back to that version, where there is one)."""
    rollout = Rollout.objects.select_for_update().get(pk=rollout.pk)
    if not rollout.is_active:
        raise RolloutError(gettext("Only a started rollout can be rolled back."))
    rollout.state, rollout.finished_at = State.ROLLED_BACK, now or timezone.now()
    rollout.save()
    logger.warning("firmware rollout %s rolled back", rollout)


def counts(rollout: Rollout) -> dict[str, int]:
    rows = rollout.phones.values("state").annotate(n=Count("pk"))
    return {row["state"]: row["n"] for row in rows}


def _sample(rollout: Rollout, now: datetime, force: bool = False) -> None:
    current = counts(rollout)
    last = rollout.samples.order_by("-at").first()
    if (
        not force
        and last is not None
        and last.counts == current
        and last.wave == rollout.wave
        and now - last.at < SAMPLE_EVERY
    ):
        return
    RolloutSample.objects.create(rollout=rollout, at=now, wave=rollout.wave, counts=current)


def waves_table(rollout: Rollout) -> list[tuple[int, list[int], int]]:
    """Per wave: its number, its phones in each state (in RolloutPhone.State's order) and
    its total."""
    rows = rollout.phones.values("wave", "state").annotate(n=Count("pk"))
    waves: dict[int, dict[str, int]] = {}
    for row in rows:
        waves.setdefault(row["wave"], {})[row["state"]] = row["n"]
    return [
        (wave + 1, [waves[wave].get(state, 0) for state in Phone], sum(waves[wave].values()))
        for wave in sorted(waves)
    ]


def not_back(rollout: Rollout) -> QuerySet[RolloutPhone]:
    """The phones that failed to come back, or never asked, in the waves opened so far."""
    return (
        rollout.phones.filter(Q(state=Phone.FAILED) | Q(state=Phone.ABSENT))
        .select_related("device", "device__organisation")
        .order_by("wave", "device__organisation__name", "device__mac")
    )
