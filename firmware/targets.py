"""Which firmware a phone should run, and the keys that tell it where to get it.

Targets are few (a handful per model and scope), and every phone request may need them, so
they are read all at once and kept per config version (`keys.FIRMWARE_TARGETS`). The most
specific target wins: the phone's own, then its organisation's, then its settings profile's
(the phone's, else its organisation's), then the one for every phone.

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

    def for_device(self, device: Device, model: str) -> Target | None:
        found = self.device.get((device.pk, model)) or self.organisation.get(
            (device.organisation_id, model)
        )
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
        if device_id is not None:
            targets.device[device_id, model] = target
        elif organisation_id is not None:
            targets.organisation[organisation_id, model] = target
        elif profile_id is not None:
            targets.profile[profile_id, model] = target
        else:
            targets.everywhere[model] = target
    return targets


def all_targets() -> Targets:
    return memo(keys.FIRMWARE_TARGETS, _load)


def target_for(device: Device) -> Target | None:
    return all_targets().for_device(device, device.model)


def target_keys(device: Device, running: str) -> dict[str, str]:
    """The MAC file's firmware keys for a phone that reports running `running`."""
    target = target_for(device)
    if target is None or not running or running == target.version:
        return {}
    return {"static.firmware.url": device.resource_url(target.path)}


def downloadable(device: Device, image_pk: int, file_name: str) -> bool:
    """Whether `device` may fetch that image: only the one its target names."""
    target = target_for(device)
    return target is not None and target.image_pk == image_pk and target.file_name == file_name
