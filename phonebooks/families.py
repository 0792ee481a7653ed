"""Phone families and the XML flavour each reads, as data: a new family is one entry.

The `<type>` in `pb-<type>-<id>.xml` is a family slug. A phone's MAC file points it at the
family of its model, so it always gets the flavour that suits its screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from devices.phone_models import MODELS


class Flavour(StrEnum):
    """The root element the phone picks its parser from (yealink.md §4)."""

    DIRECTORY = "directory"  # YealinkIPPhoneDirectory: one DirectoryEntry per contact
    GROUPED = "grouped"  # YealinkIPPhoneBook: one Menu per group, one Unit per contact


# What a phone accepts (yealink.md §4): 1.5 MB, and 768 KB on some ARM models that no
# source names, so every book above the lower figure is flagged too.
MAX_BYTES = 1536 * 1024
MAX_BYTES_SOME_MODELS = 768 * 1024


@dataclass(frozen=True)
class Family:
    slug: str
    label: str | Promise  # shown in the admin, in the reader's language
    flavour: Flavour
    models: frozenset[str]


FAMILIES: dict[str, Family] = {
    family.slug: family
    for family in (
        Family(
            "t4xg",
            _("T4x desk phones"),
            Flavour.DIRECTORY,
            frozenset(
                {
                    "T40P",
                    "T41P",
                    "T41S",
                    "T41U",
                    "T42G",
                    "T42S",
                    "T42U",
                    "T43U",
                    "T44U",
                    "T44W",
                    "T46G",
                    "T46S",
                    "T46U",
                    "T48G",
                    "T48S",
                    "T48U",
                }
            ),
        ),
        # The large colour screens show a group menu well, so they get the grouped book.
        Family(
            "t5x",
            _("T5x colour-screen phones"),
            Flavour.GROUPED,
            frozenset(
                {"T52S", "T53", "T53W", "T54S", "T54W", "T56A", "T57W", "T58A", "T58V", "T58W"}
            ),
        ),
        Family(
            "t3x",
            _("T3x entry-level phones"),
            Flavour.DIRECTORY,
            frozenset({"T30", "T30P", "T31", "T31P", "T31G", "T31W", "T33P", "T33G", "T34W"}),
        ),
        Family(
            "t2x",
            _("T2x and T19 phones"),
            Flavour.DIRECTORY,
            frozenset({"T19P_E2", "T21P_E2", "T27G", "T29G"}),
        ),
        Family(
            "cp",
            _("Conference phones"),
            Flavour.DIRECTORY,
            frozenset({"CP920", "CP925", "CP960", "CP965"}),
        ),
        # Bases and managers: the handsets read the book through them.
        Family(
            "dect",
            _("DECT bases"),
            Flavour.DIRECTORY,
            frozenset({"W60B", "W70B", "W75DM", "W75B", "W80", "W80B", "W90DM", "W90B"}),
        ),
    )
}

# A model added to the catalogue before it is given a family still gets a readable book.
DEFAULT_FAMILY = FAMILIES["t4xg"]

_BY_MODEL: dict[str, Family] = {
    model: family for family in FAMILIES.values() for model in family.models
}


def get_family(slug: str) -> Family | None:
    return FAMILIES.get(slug.lower())


def family_for_model(model_name: str) -> Family:
    return _BY_MODEL.get(model_name, DEFAULT_FAMILY)


def models_without_family() -> list[str]:
    """Catalogue models that fall back to DEFAULT_FAMILY (a test keeps this empty)."""
    return [model.name for model in MODELS if model.name not in _BY_MODEL]
