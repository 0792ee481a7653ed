"""The model catalogue's invariants: what the config code and the admin forms rely on."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.core.validators import MaxValueValidator

from devices.mac import parse_user_agent
from devices.models import Device, Handset, LineKey, max_lines
from devices.phone_models import (
    BY_NAME,
    EXPANSION_MODULES,
    MODEL_CHOICES,
    MODELS,
    common_file_name,
    get_model,
    models_for_code,
)
from phonebooks.families import FAMILIES, family_for_model

# DECT bases and managers that take handsets themselves; and the bases that work under a
# DECT manager, whose accounts and handsets live on the manager.
DECT_WITH_HANDSETS = {"W60B", "W70B", "W75DM", "W80", "W90DM"}
DECT_BASES_UNDER_A_MANAGER = {"W75B", "W80B", "W90B"}
CONFERENCE_PHONES = {"CP920", "CP925", "CP960", "CP965"}

# The largest screen media_assets/validation.py tells an admin about.
LARGEST_SCREEN = (1024, 600)


def largest_allowed(model_class, field_name: str) -> int:
    field = model_class._meta.get_field(field_name)
    limits = [v.limit_value for v in field.validators if isinstance(v, MaxValueValidator)]
    assert limits, f"{model_class.__name__}.{field_name} has no upper bound"
    return min(limits)


# --- names, codes, sources ----------------------------------------------------------------


def test_names_are_unique_and_every_name_is_a_choice():
    names = [model.name for model in MODELS]
    assert len(names) == len(set(names))
    assert set(BY_NAME) == set(names)
    assert [name for name, _ in MODEL_CHOICES] == names


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.name)
def test_a_name_is_written_as_the_user_agent_writes_it(model):
    assert re.fullmatch(r"[A-Z][A-Z0-9_]+", model.name)
    agent = f"Yealink SIP-{model.name} {model.code}.86.0.10 80:5e:c0:00:00:01"
    assert parse_user_agent(agent).model == model.name
    assert get_model(parse_user_agent(agent).model) is model


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.name)
def test_every_model_cites_a_source(model):
    assert model.source.strip()
    assert len(model.source) > 20  # a citation, not a placeholder


def test_every_expansion_module_cites_a_source():
    assert all(len(module.source.strip()) > 20 for module in EXPANSION_MODULES.values())


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.name)
def test_the_code_names_a_common_file_the_model_is_found_by(model):
    assert 1 <= model.code <= 999
    assert model.common_file == common_file_name(model.code)
    assert re.fullmatch(r"y\d{12}\.cfg", model.common_file)
    assert model in models_for_code(model.code)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("CP925", 148),
        ("CP960", 73),
        ("CP965", 143),
        ("T30", 127),
        ("T30P", 127),
        ("T31", 123),
        ("T31P", 123),
        ("T33P", 124),
        ("T41U", 108),
        ("T44U", 173),
        ("T44W", 174),
        ("W75DM", 175),
        ("W75B", 175),
        ("W80", 103),
        ("W80B", 103),
        ("W90DM", 130),
        ("W90B", 130),
    ],
)
def test_the_codes_of_the_added_models(name, code):
    assert BY_NAME[name].code == code


def test_models_sharing_a_common_file_share_a_phonebook_family():
    for code in {model.code for model in MODELS}:
        families = {family_for_model(model.name).slug for model in models_for_code(code)}
        assert len(families) == 1, (code, families)


# --- lines and line keys ------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.name)
def test_lines(model):
    if model.name in DECT_BASES_UNDER_A_MANAGER:
        assert model.lines == 0
    else:
        assert model.lines >= 1
    assert model.lines <= max_lines()


def test_a_dect_manager_holds_more_lines_than_a_desk_phone():
    assert BY_NAME["W80"].lines > 16
    assert max_lines() == max(model.lines for model in MODELS) == BY_NAME["W90DM"].lines


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.name)
def test_line_keys_and_their_pages_agree(model):
    assert model.line_keys >= 0
    assert model.line_key_pages >= 1
    if model.line_keys == 0:
        assert model.line_key_pages == 1
    else:
        assert model.line_key_pages <= model.line_keys
    assert model.line_keys <= largest_allowed(LineKey, "position")


@pytest.mark.parametrize(
    ("name", "line_keys"),
    [("T19P_E2", 0), ("T21P_E2", 2), ("T31G", 2), ("T42S", 15), ("T46U", 27), ("T48U", 29)],
)
def test_some_line_key_counts(name, line_keys):
    assert BY_NAME[name].line_keys == line_keys


def test_conference_phones_have_no_line_keys_and_no_modules():
    for name in CONFERENCE_PHONES:
        model = BY_NAME[name]
        assert model.line_keys == 0
        assert model.expansion_modules == ()
        assert not model.is_dect


# --- expansion modules --------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.name)
def test_expansion_modules_exist_and_agree_with_their_count(model):
    assert all(name in EXPANSION_MODULES for name in model.expansion_modules)
    assert len(set(model.expansion_modules)) == len(model.expansion_modules)
    if model.expansion_modules:
        assert 1 <= model.max_expansion_modules <= largest_allowed(Device, "expansion_module_count")
        assert model.module_keys == max(m.keys for m in model.modules)
    else:
        assert model.max_expansion_modules == 0
        assert model.module_keys == 0


def test_an_expansion_module_has_its_keys_on_whole_pages():
    for module in EXPANSION_MODULES.values():
        assert module.pages >= 1
        assert module.keys % module.pages == 0
        assert module.keys <= largest_allowed(LineKey, "position")


def test_every_expansion_module_is_taken_by_some_model():
    taken = {name for model in MODELS for name in model.expansion_modules}
    assert taken == set(EXPANSION_MODULES)


# --- DECT -----------------------------------------------------------------------------------


def test_dect_models_are_the_w_series():
    dect = {model.name for model in MODELS if model.is_dect}
    assert dect == DECT_WITH_HANDSETS
    w_series = {model.name for model in MODELS if model.name.startswith("W")}
    assert w_series == DECT_WITH_HANDSETS | DECT_BASES_UNDER_A_MANAGER


@pytest.mark.parametrize("name", sorted(DECT_WITH_HANDSETS | DECT_BASES_UNDER_A_MANAGER), ids=str)
def test_a_dect_model_has_no_keys_modules_or_screen(name):
    model = BY_NAME[name]
    assert model.line_keys == 0
    assert model.expansion_modules == ()
    assert model.screen is None


@pytest.mark.parametrize("name", sorted(DECT_WITH_HANDSETS), ids=str)
def test_a_dect_base_or_manager_takes_handsets(name):
    model = BY_NAME[name]
    assert 1 <= model.handsets <= largest_allowed(Handset, "index")


@pytest.mark.parametrize("name", sorted(DECT_BASES_UNDER_A_MANAGER), ids=str)
def test_a_base_under_a_manager_takes_no_handsets_itself(name):
    assert BY_NAME[name].handsets == 0


def test_only_dect_models_take_handsets():
    assert all(model.handsets == 0 for model in MODELS if not model.name.startswith("W"))


# --- screens --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model", [model for model in MODELS if model.screen], ids=lambda model: model.name
)
def test_a_screen_is_a_landscape_size_within_the_largest_one(model):
    width, height = model.screen
    assert 0 < height < width
    assert width <= LARGEST_SCREEN[0]
    assert height <= LARGEST_SCREEN[1]


# --- phonebook families ---------------------------------------------------------------------


def test_every_model_is_in_exactly_one_phonebook_family():
    counts = Counter(name for family in FAMILIES.values() for name in family.models)
    assert {model.name: counts[model.name] for model in MODELS} == {
        model.name: 1 for model in MODELS
    }


def test_a_family_names_only_catalogue_models():
    named = {name for family in FAMILIES.values() for name in family.models}
    assert named <= set(BY_NAME)
