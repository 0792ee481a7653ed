from io import StringIO

import pytest
from django.core.management import call_command

from devices.models import Device, SipAccount
from organisations.models import Organisation


@pytest.mark.django_db
def test_loaddemo_creates_the_demo_and_a_second_run_changes_nothing():
    call_command("loaddemo", stdout=StringIO())
    snapshot = [
        list(model.objects.order_by("pk").values()) for model in (Organisation, Device, SipAccount)
    ]
    out = StringIO()

    call_command("loaddemo", stdout=out)

    assert "0 object(s) created" in out.getvalue()
    assert snapshot == [
        list(model.objects.order_by("pk").values()) for model in (Organisation, Device, SipAccount)
    ]


@pytest.mark.django_db
def test_the_demo_phone_has_its_two_accounts(client):
    call_command("loaddemo", stdout=StringIO())

    demo = Organisation.objects.get(slug="demo")
    assert (demo.name, demo.provisioning_username, demo.sip_server_host) == (
        "Demo BV",
        "demo",
        "sip.demo.example",
    )
    phone = Device.objects.get(mac="805ec0000001")
    assert (phone.organisation, phone.model) == (demo, "T54W")
    assert list(phone.sip_accounts.values_list("user_name", flat=True)) == ["1001", "1002"]
    acme_phone = Device.objects.get(mac="001565000002")
    assert (acme_phone.organisation.slug, acme_phone.model, acme_phone.sip_accounts.count()) == (
        "acme",
        "T46U",
        1,
    )
