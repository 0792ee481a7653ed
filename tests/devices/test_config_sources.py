"""What a phone's files are made of is declared once (devices.serving.keys), and every change
to it makes a new config version, so no process serves what it kept from before."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command

from devices.models import AccessLog, Device
from devices.serving import cache, keys
from media_assets.models import DeviceMedia, Wallpaper

PROJECT_APPS = (
    "organisations",
    "devices",
    "phonebooks",
    "media_assets",
    "rps",
    "firmware",
    "jobs",
)


def test_every_model_is_a_config_source_or_listed_as_none():
    models = {
        model._meta.label for app in PROJECT_APPS for model in apps.get_app_config(app).get_models()
    }

    assert set(keys.CONFIG_SOURCES) | set(keys.NOT_CONFIG_SOURCES) == models
    assert not set(keys.CONFIG_SOURCES) & set(keys.NOT_CONFIG_SOURCES)


@pytest.fixture
def one_of_each(db):
    call_command("loaddemo", stdout=StringIO())
    device = Device.objects.get(mac="805ec0000001")
    DeviceMedia.objects.create(device=device, wallpaper=Wallpaper.objects.first())


@pytest.mark.parametrize("label", keys.CONFIG_SOURCES)
def test_saving_a_config_source_makes_a_new_version(settings, one_of_each, label):
    settings.CONFIG_CACHE = True
    row = apps.get_model(label)._default_manager.first()
    assert row is not None, f"no {label} to save: add it to the fixture"
    before = cache.current_version()

    row.save()

    assert before is not None
    assert cache.current_version() != before


@pytest.mark.parametrize("label", ["phonebooks.Contact", "devices.SipAccount"])
def test_deleting_a_config_source_makes_a_new_version(settings, one_of_each, label):
    settings.CONFIG_CACHE = True
    before = cache.current_version()

    apps.get_model(label)._default_manager.first().delete()

    assert cache.current_version() != before


def test_a_row_of_a_model_that_is_no_source_changes_nothing(settings, one_of_each):
    settings.CONFIG_CACHE = True
    before = cache.current_version()

    AccessLog.objects.create(path="/x.cfg", outcome="success", status_code=200)

    assert cache.current_version() == before
