"""Which firmware a phone should run, and the keys that tell it where to get it.

Targets are few (a handful per model and scope), and every phone request may need them, so
they are read all at once and kept per config version (`keys.FIRMWARE_TARGETS`), with the
phones of every rollout's opened waves. The most specific target wins: the phone's own, then
its organisation's; then, unless its organisation holds back its firmware (as the provider
allowed it), the rollout that offered it the image (the latest started), its settings
profile's (the phone's, else its organisation's), and the one for every phone.

A DECT base's handsets update over the air from the base: for each handset model with a
target, its MAC file names that image as `over_the_air.url.<handset>`. Handsets report no
version to us, so those lines are always there; the base compares (Wazo's templates do
the same).

The MAC file names the image only when the firmware the phone reports in its User-Agent is
not the target's version, so a phone on the right version never downloads it again. A phone
that reports no version is not sent one: every Yealink firmware reports its version, and
without it we could not tell an upgrade from a loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

from devices.models import Device
from devices.serving import keys, memo
from firmware.validation import HANDSET_MODELS

# A phone's image, under its resource token: p/<mac>/<token>/firmware/<pk>/<file name>.
FIRMWARE_PATH = "firmware/{pk}/{name}"


@dataclass(frozen=True)
class Target:
    image_pk: int
    version: str
    file_name: str

    @property
    def path(self) -> str:
        return FIRMWARE_PATH.format(pk=self.image_pk, name=self.file_name)


@dataclass
class Targets:
    """Every target, by scope: (scope pk or None, model) -> target."""

    everywhere: dict[str, Target] = field(default_factory=dict)
    profile: dict[tuple[int, str], Target] = field(default_factory=dict)
    organisation: dict[tuple[int, str], Target] = field(default_factory=dict)
    device: dict[tuple[int, str], Target] = field(default_factory=dict)
    rollout: dict[tuple[int, str], Target] = field(default_factory=dict)
    handsets: set[str] = field(default_factory=set)  # handset models that have a target

    def for_device(self, device: Device, model: str) -> Target | None:
        found = self.device.get((device.pk, model)) or self.organisation.get(
            (device.organisation_id, model)
        )
        if found is not None:
            return found
        if device.organisation.holds_back_firmware:
            return None
        found = self.rollout.get((device.pk, model))
        if found is None:
            profile_id = device.profile_id or device.organisation.profile_id
            if profile_id is not None:
                found = self.profile.get((profile_id, model))
        return found or self.everywhere.get(model)


def _load() -> Targets:
    from firmware.models import FirmwareTarget

    targets = Targets()
    # Each row has at most one scope: the others are None.
    rows = cast(
        Iterable[tuple[str, int | None, int | None, int | None, int, str, str]],
        FirmwareTarget.objects.values_list(
            "model",
            "profile_id",
            "organisation_id",
            "device_id",
            "image_id",
            "image__version",
            "image__file_name",
        ),
    )
    for model, profile_id, organisation_id, device_id, pk, version, name in rows:
        target = Target(pk, version, name)
        if model in HANDSET_MODELS:
            targets.handsets.add(model)
        if device_id is not None:
            targets.device[device_id, model] = target
        elif organisation_id is not None:
            targets.organisation[organisation_id, model] = target
        elif profile_id is not None:
            targets.profile[profile_id, model] = target
        else:
            targets.everywhere[model] = target
    _load_rollouts(targets)
    return targets


def _load_rollouts(targets: Targets) -> None:
    """The phones of every rollout's opened waves, the later started rollout winning. A
    phone is offered by one rollout at most (a rollout that starts marks the phone's rows
    of completed ones as left), so this is at most one row per phone."""
    from firmware.models import Rollout, RolloutPhone

    active = Rollout.objects.exclude(
        state__in=[Rollout.State.DRAFT, Rollout.State.ROLLED_BACK]
    ).select_related("image")
    by_pk: dict[int, tuple[Target, set[str]]] = {}
    states: dict[int, str] = {}
    for rollout in active:
        image = rollout.image
        states[rollout.pk] = rollout.state
        by_pk[rollout.pk] = (
            Target(image.pk, image.version, image.file_name),
            set(rollout.phone_models),
        )
    if not by_pk:
        return
    Phone = RolloutPhone.State
    # A halted rollout offers its image no further: only to the phones that already
    # updated, or that fetched it and have not come back (they may be retrying).
    halted = [pk for pk, state in states.items() if state == Rollout.State.HALTED]
    phones = (
        RolloutPhone.objects.filter(rollout__in=list(by_pk))
        .exclude(state__in=[Phone.WAITING, Phone.LEFT])
        .exclude(rollout__in=halted, state__in=[Phone.OFFERED, Phone.ABSENT])
        .order_by("rollout__started_at", "rollout_id")
        .values_list("device_id", "device__model", "rollout_id")
    )
    for device_id, model, rollout_id in phones.iterator(chunk_size=5000):
        target, models = by_pk[rollout_id]
        if model in models:  # a phone since changed to another model is left out
            targets.rollout[device_id, model] = target


def all_targets() -> Targets:
    return memo(keys.FIRMWARE_TARGETS, _load)


def target_for(device: Device) -> Target | None:
    return all_targets().for_device(device, device.model)


def handset_targets(device: Device) -> dict[str, Target]:
    """A DECT base's handset images, by handset model."""
    model = device.phone_model
    if model is None or not model.is_dect:
        return {}
    targets = all_targets()
    found = {name: targets.for_device(device, name) for name in sorted(targets.handsets)}
    return {name: target for name, target in found.items() if target is not None}


def target_keys(device: Device, running: str) -> dict[str, str]:
    """The MAC file's firmware keys for a phone that reports running `running`."""
    keys: dict[str, str] = {}
    target = target_for(device)
    if target is not None and running and running != target.version:
        keys["static.firmware.url"] = device.resource_url(target.path)
    handsets = handset_targets(device)
    for name, handset in handsets.items():
        keys[f"over_the_air.url.{name.lower()}"] = device.resource_url(handset.path)
    if handsets:
        keys["over_the_air.handset_tip"] = "0"  # no prompt on the handsets: they just update
    return keys


def downloadable(device: Device, image_pk: int, file_name: str) -> bool:
    """Whether `device` may fetch that image: only one its targets name."""
    targets = [target_for(device), *handset_targets(device).values()]
    return any(
        target is not None and target.image_pk == image_pk and target.file_name == file_name
        for target in targets
    )
