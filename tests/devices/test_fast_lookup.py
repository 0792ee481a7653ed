"""The hot lookup returns exactly what the ORM would."""

from django.forms.models import model_to_dict

from devices.fast_lookup import device_with_organisation
from devices.models import Device


def test_it_returns_the_device_and_its_organisation_as_the_orm_does(tenant_a, tenant_b):
    Device.objects.filter(pk=tenant_a.device.pk).update(last_seen_ip="2001:db8::1")
    orm = Device.objects.select_related("organisation").get(pk=tenant_a.device.pk)

    fast = device_with_organisation("805ec0aaaa01")

    assert model_to_dict(fast) == model_to_dict(orm)
    for name in ("last_seen_at", "last_seen_ip", "created_at", "updated_at", "last_config"):
        assert getattr(fast, name) == getattr(orm, name), name
    assert model_to_dict(fast.organisation) == model_to_dict(orm.organisation)
    assert fast.organisation.provisioning_password == tenant_a.password  # decrypted
    assert fast.organisation.previous_password() is None


def test_an_unknown_mac_is_none(tenant_a):
    assert device_with_organisation("805ec0999999") is None
    assert device_with_organisation("not a mac") is None


def test_the_organisation_comes_without_another_query(tenant_a, django_assert_num_queries):
    with django_assert_num_queries(1):
        device = device_with_organisation("805ec0aaaa01")
        assert device.organisation.slug == "alpha"
