"""Every key we render is one Yealink documents or the public templates emit: the list of
keys we render is data (devices/data/rendered-keys.tsv, with the source of each), and this
test holds every rendered key against it, and the list against what is rendered."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from devices.config import common_config, device_config, firmware_keys, legacy_names
from devices.models import Device, Handset, KeyType, LineKey
from devices.phone_models import MODELS
from firmware.models import FirmwareImage, FirmwareTarget
from media_assets.models import SoftkeyFile
from media_assets.validation import SOFTKEY_CALL_STATES
from organisations.config_syntax import generic_key, key_of, known_keys
from organisations.models import Organisation
from organisations.phone_settings import CODECS, Srtp
from tests.factories import make_account, make_device

RENDERED_KEYS = Path(__file__).resolve().parents[2] / "devices" / "data" / "rendered-keys.tsv"


def listed() -> dict[str, str]:
    with open(RENDERED_KEYS, encoding="utf-8") as file:
        rows = [line.rstrip("\n").split("\t") for line in file if not line.startswith("#")]
    return {key: source for key, source in rows}


def rendered_keys() -> set[str]:
    """Every key of every file of an installation that uses every feature."""
    call_command("loaddemo", stdout=StringIO())
    demo = Organisation.objects.get(slug="demo")
    for name, value in {
        "sip_server_2_transport": 1,
        "outbound_proxy_2_host": "proxy2.demo.example",
        "srtp": Srtp.OPTIONAL,
        "mwi_subscribe": True,
        "vlan_enabled": True,
        "vlan_id": 10,
        "pc_vlan_enabled": True,
        "pc_vlan_id": 11,
        "ntp_server_2": "ntp2.example",
        "phone_var_password": "var-secret-1",
        "codecs": ",".join(CODECS),  # every codec chosen: each has its priority key
        "lldp_enabled": True,
        "cdp_enabled": False,
    }.items():
        setattr(demo, name, value)
    demo.save()
    phone = Device.objects.get(mac="805ec0000001")
    for position, key_type in enumerate(KeyType, start=6):
        LineKey.objects.create(
            device=phone, position=position, type=key_type, value="1", extension="*8"
        )
    LineKey.objects.create(device=phone, module=1, position=2, type=KeyType.XML_PHONEBOOK)
    for state in SOFTKEY_CALL_STATES:  # a file for every call state: each has its URL key
        if not SoftkeyFile.objects.filter(call_state=state).exists():
            SoftkeyFile.objects.create(name=state, call_state=state, content=f"<{state}/>")
    base = make_device(demo, "805ec0ab0060", model="W60B")
    make_account(base, 1)
    Handset.objects.create(
        device=base, index=1, name="A", incoming_lines="1", outgoing_lines="1", default_line=1
    )
    handset_image = FirmwareImage.objects.create(
        kind=FirmwareImage.Kind.HANDSET,
        version="61.85.0.20",
        model_code=61,
        model_names=["W56H"],
        file=ContentFile(b"handset image", name="61.85.0.20.rom"),
        file_name="61.85.0.20.rom",
        size=13,
        sha256="0" * 64,
    )
    FirmwareTarget.objects.create(model="W56H", image=handset_image)  # sent over the air
    keys: set[str] = set()
    # A version no target names: the demo phone is sent its firmware target's image.
    configs = [
        device_config(device, firmware=firmware_keys(device, "1.0.0.1"))
        for device in Device.objects.all()
    ]
    configs += [
        common_config(organisation, model.code)
        for organisation in Organisation.objects.all()
        for model in MODELS[:1]
    ]
    for config in [*configs, *map(legacy_names, configs)]:
        keys |= {generic_key(key_of(place)).lower() for place in config}
    return keys


@pytest.mark.django_db
def test_every_rendered_key_is_listed_and_every_listed_key_is_rendered():
    keys, table = rendered_keys(), listed()

    assert sorted(keys - set(table)) == [], f"rendered but not in {RENDERED_KEYS}"
    assert sorted(set(table) - keys) == [], "listed but never rendered"


def test_every_listed_key_is_in_the_public_templates_or_names_its_source():
    known = known_keys()

    unsourced = [
        key
        for key, source in listed().items()
        if source.startswith("yealink-keys.tsv") != (key in known) or not source
    ]

    assert unsourced == []
