"""The hot lookups return exactly what the ORM would."""

from django.forms.models import model_to_dict

from devices.models import Device
from devices.serving import cache, sip_accounts
from devices.serving.lookup import ACCOUNTS, phones_of_organisation
from tests.factories import make_account, make_device


def device_with_organisation(mac: str) -> Device:
    """The phone's own lookup, as the endpoint makes it (with the cache off, as here: the
    device alone, and its organisation)."""
    device = cache.device(mac)
    assert device is not None, f"no device {mac}"
    return device


def device_alone(mac: str) -> Device:
    """The one statement: the device with its accounts (the limit allows no other phones)."""
    [device] = phones_of_organisation(mac, limit=0)
    return device


def test_it_returns_the_device_and_its_organisation_as_the_orm_does(tenant_a, tenant_b):
    Device.objects.filter(pk=tenant_a.device.pk).update(last_seen_ip="2001:db8::1")
    orm = Device.objects.select_related("organisation").get(pk=tenant_a.device.pk)

    fast = device_with_organisation("805ec0aaaa01")

    loaded = {name: value for name, value in model_to_dict(orm).items() if name != "last_config"}
    assert {name: model_to_dict(fast)[name] for name in loaded} == loaded
    for name in ("last_seen_at", "last_seen_ip", "created_at", "updated_at"):
        assert getattr(fast, name) == getattr(orm, name), name
    assert model_to_dict(fast.organisation) == model_to_dict(orm.organisation)
    assert fast.organisation.provisioning_password == tenant_a.password  # decrypted
    assert fast.organisation.previous_password() is None


def test_the_copy_of_the_last_config_is_not_read_on_the_phone_path(tenant_a):
    Device.objects.filter(pk=tenant_a.device.pk).update(last_config="account.1.password = x")

    fast = device_with_organisation("805ec0aaaa01")

    assert fast.get_deferred_fields() == {"last_config"}
    assert fast.last_config == "account.1.password = x"  # still there, for whoever asks


def test_an_unknown_mac_is_none(tenant_a):
    assert cache.device("805ec0999999") is None
    assert cache.device("not a mac") is None


def test_the_organisation_is_kept_for_its_other_phones(
    settings, tenant_a, django_assert_num_queries
):
    other = make_device(tenant_a.organisation, "805ec0aaaa99")
    settings.CONFIG_CACHE = True
    settings.CONFIG_CACHE_ORGANISATION_MAX_DEVICES = 0  # phone by phone
    cache.bump()
    with django_assert_num_queries(2):  # the device, its organisation
        device = device_with_organisation("805ec0aaaa01")
        assert device.organisation.slug == "alpha"

    with django_assert_num_queries(1):  # the device only
        assert device_with_organisation(other.mac).organisation == tenant_a.organisation


def test_the_accounts_come_in_line_order_as_the_orm_gives_them(tenant_a):
    make_account(tenant_a.device, 3, password="three")
    fast = sip_accounts(tenant_a.device)

    orm = list(tenant_a.device.sip_accounts.order_by("index"))

    assert [model_to_dict(account) for account in fast] == [model_to_dict(a) for a in orm]
    assert [account.index for account in fast] == [1, 2, 3]
    assert fast[2].password == "three"  # decrypted


def test_the_accounts_come_with_the_device_in_the_same_statement(
    tenant_a, django_assert_num_queries
):
    with django_assert_num_queries(1):
        device = device_alone("805ec0aaaa01")
        accounts = sip_accounts(device)

    assert [(a.index, a.user_name, a.password) for a in accounts] == [
        (1, "a101", "alpha-sip-101"),
        (2, "a102", "alpha-sip-102"),
    ]
    assert all(account.device is device for account in accounts)


def test_a_device_without_accounts_has_none(tenant_a, django_assert_num_queries):
    make_device(tenant_a.organisation, "805ec0aaaa98")

    device = device_alone("805ec0aaaa98")

    with django_assert_num_queries(0):
        assert sip_accounts(device) == []


def test_the_phones_of_the_organisation_come_with_the_device_up_to_a_limit(tenant_a, tenant_b):
    other = make_device(tenant_a.organisation, "805ec0aaaa99")
    make_account(other, 1, user_name="a901", password="nine")

    phones = phones_of_organisation("805ec0aaaa99", limit=2)

    assert [phone.mac for phone in phones] == ["805ec0aaaa99", "805ec0aaaa01"]  # its own first
    assert [[(a.index, a.password) for a in getattr(phone, ACCOUNTS)] for phone in phones] == [
        [(1, "nine")],
        [(1, "alpha-sip-101"), (2, "alpha-sip-102")],
    ]
    assert all(phone.organisation_id == tenant_a.organisation.pk for phone in phones)
    assert [phone.mac for phone in phones_of_organisation("805ec0aaaa99", limit=1)] == [
        "805ec0aaaa99"
    ]
    assert phones_of_organisation("805ec0999999", limit=10) == []
