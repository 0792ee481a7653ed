"""Organisation staff see and touch only their own organisation's objects, on every admin
page and action. Built over the admin registry, so a new model admin without scoping fails."""

from __future__ import annotations

from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.urls import reverse

from api import tokens
from devices.models import AccessLog, Device, ForeignMacAttempt, SipAccount
from firmware.models import FirmwareImage, FirmwareTarget, Rollout
from jobs.models import Job
from media_assets.models import CaCertificate, SoftkeyFile
from organisations.admin import ScopedInline, ScopedModelAdmin
from organisations.models import Organisation, SettingsProfile
from organisations.scoping import PROVIDER_GROUP, organisation_of, scope_queryset, scoped_model
from rps.models import RpsServerState
from tests.admin_forms import management_data

User = get_user_model()
# Django's own admins: organisation staff have no permission on them at all (403).
NOT_SCOPED = {User, Group}
# The provider's business: staff may not open their lists (403), and their objects do not
# exist for staff (404), like another organisation's.
PROVIDER_ONLY = {
    SoftkeyFile,
    CaCertificate,
    RpsServerState,
    SettingsProfile,
    ForeignMacAttempt,
    AccessAttempt,  # admin login lockouts
    FirmwareImage,
    FirmwareTarget,
    Rollout,
}


@pytest.fixture
def two_organisations(db):
    """The demo data: organisation `demo` (staff login demo-admin) and `acme`."""
    call_command("loaddemo", stdout=StringIO())
    demo, acme = Organisation.objects.get(slug="demo"), Organisation.objects.get(slug="acme")
    RpsServerState.objects.create(organisation=acme, server_name="vc-acme-000000")
    ForeignMacAttempt.objects.create(
        organisation=acme, username="acme-admin", source="form", macs="805ec0000001", mac_count=1
    )
    AccessAttempt.objects.create(username="acme-admin", failures_since_start=5)
    tokens.issue("acme billing", acme)
    for org in (demo, acme):
        Job.objects.create(kind=Job.Kind.RPS_SYNC, organisation=org, title=f"Sync {org.slug}")
    Job.objects.create(kind=Job.Kind.RPS_SYNC, title="Sync demo and acme")  # the provider's
    for org in (demo, acme):
        device = org.devices.get(mac={"demo": "805ec0000001", "acme": "001565000002"}[org.slug])
        AccessLog.objects.create(
            path=f"/{device.mac}.cfg",
            mac=device.mac,
            organisation=org,
            device=device,
            outcome=AccessLog.Outcome.SUCCESS,
            status_code=200,
        )
    return demo, acme


@pytest.fixture
def staff_client(client, two_organisations):
    client.force_login(User.objects.get(username="demo-admin"))
    return client


def admin_url(model, view: str, *args) -> str:
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def registered(*, without=()):
    """(model, model admin) of every admin page, but those of the models `without`."""
    pages = [(model, model_admin) for model, model_admin in admin.site._registry.items()]
    return pytest.mark.parametrize(
        ("model", "model_admin"),
        [(model, model_admin) for model, model_admin in pages if model not in without],
        ids=lambda value: getattr(value, "__name__", ""),
    )


def others_rows(model, organisation):
    """Rows staff must not reach: the organisation's, or, for a model that belongs to no
    organisation (the provider's), any."""
    scope = scoped_model(model)
    assert scope is not None, f"{model.__name__} has no path to its organisation"
    if scope.path is None:
        return model._default_manager.all()
    return model._default_manager.filter(**{scope.path or "pk": organisation.pk})


# --- structure: nothing unscoped gets in ------------------------------------------------


@registered(without=NOT_SCOPED)
def test_every_model_admin_and_inline_is_scoped(model, model_admin):
    assert isinstance(model_admin, ScopedModelAdmin), f"{type(model_admin).__name__} is not scoped"
    assert scoped_model(model) is not None, f"{model.__name__} has no path to its organisation"
    for inline in model_admin.inlines:
        assert issubclass(inline, ScopedInline), f"{inline.__name__} is not scoped"
        assert scoped_model(inline.model) is not None, f"{inline.model.__name__} is not registered"


def test_organisation_staff_have_no_permission_on_users_and_groups(two_organisations):
    staff = User.objects.get(username="demo-admin")

    assert not any(staff.has_perm(f"auth.{action}_user") for action in ("view", "add", "change"))
    assert not staff.has_perm("auth.add_group")


# --- behaviour, for every registered admin ------------------------------------------------


@registered(without=NOT_SCOPED | PROVIDER_ONLY)
def test_staff_lists_show_only_their_organisation(
    staff_client, two_organisations, model, model_admin
):
    demo, _ = two_organisations

    response = staff_client.get(admin_url(model, "changelist"))

    assert response.status_code == 200
    owners = {organisation_of(obj) for obj in response.context["cl"].result_list}
    assert owners <= {demo, None}, f"{model.__name__} list shows {owners}"


@pytest.mark.parametrize("model", sorted(NOT_SCOPED | PROVIDER_ONLY, key=str))
def test_staff_may_not_open_the_providers_lists(staff_client, model):
    assert admin.site.is_registered(model)

    assert staff_client.get(admin_url(model, "changelist")).status_code == 403


@registered(without=NOT_SCOPED)
def test_another_organisations_object_is_a_404_on_every_page(
    staff_client, two_organisations, model, model_admin
):
    _, acme = two_organisations
    others = list(others_rows(model, acme)[:1])
    assert others, f"no {model.__name__} of the second organisation to test with: add demo data"
    pk = others[0].pk

    for view in ("change", "delete", "history"):
        response = staff_client.get(admin_url(model, view, pk))
        assert response.status_code == 404, f"{model.__name__} {view}: {response.status_code}"
    assert staff_client.post(admin_url(model, "delete", pk), {"post": "yes"}).status_code == 404
    assert model._default_manager.filter(pk=pk).exists()


@registered(without=NOT_SCOPED | PROVIDER_ONLY)
def test_admin_actions_never_reach_another_organisations_objects(
    staff_client, two_organisations, model, model_admin
):
    _, acme = two_organisations
    others = list(others_rows(model, acme).values_list("pk", flat=True)[:5])
    response = staff_client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    for action in model_admin.get_actions(response.wsgi_request):
        staff_client.post(
            admin_url(model, "changelist"),
            {"action": action, "_selected_action": others, "post": "yes"},
        )
        assert model._default_manager.filter(pk__in=others).count() == len(others), action


def test_autocomplete_and_raw_id_lookups_offer_only_own_objects(staff_client, two_organisations):
    autocomplete = staff_client.get(
        "/admin/autocomplete/",
        {"app_label": "devices", "model_name": "sipaccount", "field_name": "device", "term": ""},
    )
    popup = staff_client.get("/admin/devices/device/", {"_to_field": "id", "_popup": "1"})

    assert autocomplete.status_code == 200
    assert [item["text"] for item in autocomplete.json()["results"]] == [
        "80:5e:c0:00:00:01 (Reception)"
    ]
    assert list(popup.context["cl"].result_list) == list(Device.objects.filter(mac="805ec0000001"))


def test_search_does_not_find_another_organisations_phone(staff_client, two_organisations):
    response = staff_client.get("/admin/devices/device/", {"q": "00:15:65:00:00:02"})

    assert list(response.context["cl"].result_list) == []


def test_a_form_refuses_another_organisations_object_as_a_choice(staff_client, two_organisations):
    acme_phone = Device.objects.get(mac="001565000002")
    data = {
        "device": acme_phone.pk,
        "index": 5,
        "is_enabled": "on",
        "user_name": "x",
        "password": "y",
    }

    response = staff_client.post("/admin/devices/sipaccount/add/", data)

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not SipAccount.objects.filter(user_name="x").exists()


def test_staff_cannot_move_a_phone_to_another_organisation(staff_client, two_organisations):
    demo, acme = two_organisations
    phone = Device.objects.get(mac="805ec0000001")

    page = staff_client.get(admin_url(Device, "change", phone.pk)).content.decode()
    staff_client.post(admin_url(Device, "change", phone.pk), {"organisation": acme.pk})

    assert 'name="organisation"' not in page
    assert Device.objects.get(pk=phone.pk).organisation == demo


def test_staff_list_filters_never_name_another_organisation(staff_client, two_organisations):
    for page in [
        "/admin/devices/device/",
        "/admin/devices/sipaccount/",
        "/admin/devices/accesslog/",
    ]:
        body = staff_client.get(page).content.decode()
        assert "Acme NV" not in body, page
        assert "001565000002" not in body.replace(":", ""), page


def test_staff_see_their_organisation_read_only_without_its_password(
    staff_client, two_organisations
):
    demo, acme = two_organisations

    own = staff_client.get(admin_url(Organisation, "change", demo.pk))
    change = staff_client.post(admin_url(Organisation, "change", demo.pk), {"name": "Hacked"})

    assert own.status_code == 200
    assert demo.provisioning_password not in own.content.decode()
    assert "provisioning_password" not in own.content.decode()
    assert change.status_code == 403
    assert staff_client.get(admin_url(Organisation, "change", acme.pk)).status_code == 404
    assert staff_client.get(admin_url(Organisation, "add")).status_code == 403


def test_staff_cannot_create_users(staff_client, two_organisations):
    assert staff_client.get("/admin/auth/user/add/").status_code == 403
    assert staff_client.post("/admin/auth/user/add/", {"username": "x"}).status_code == 403


def test_csv_export_holds_only_own_phones(staff_client, two_organisations):
    body = staff_client.get("/admin/devices/device/export/").content.decode()

    assert "80:5e:c0:00:00:01" in body
    assert "00:15:65:00:00:02" not in body
    assert "acme" not in body


def test_the_config_preview_of_another_organisations_phone_is_a_404(
    staff_client, two_organisations
):
    acme_phone = Device.objects.get(mac="001565000002")

    assert staff_client.get(f"/admin/devices/device/{acme_phone.pk}/config/").status_code == 404


def test_provider_group_members_see_everything(client, two_organisations):
    provider = User.objects.create_user("ops", password="x", is_staff=True)
    provider.groups.add(Group.objects.get(name=PROVIDER_GROUP))
    client.force_login(provider)

    response = client.get("/admin/devices/device/")

    assert response.context["cl"].result_count == Device.objects.count() == 3
    assert scope_queryset(Device.objects.all(), provider).count() == 3


def test_the_groups_permissions_follow_the_registry(two_organisations):
    staff = Group.objects.get(name="organisation staff")
    codenames = set(staff.permissions.values_list("codename", flat=True))

    assert {"view_device", "add_device", "change_device", "delete_device"} <= codenames
    assert "view_accesslog" in codenames
    assert not {"change_accesslog", "change_organisation", "add_organisation"} & codenames
    assert Group.objects.get(name=PROVIDER_GROUP).permissions.count() == Permission.objects.count()


def test_staff_revealing_the_preview_see_their_sip_passwords_but_not_the_provisioning_password(
    staff_client, two_organisations
):
    demo, _ = two_organisations
    phone = Device.objects.get(mac="805ec0000001")

    body = staff_client.get(
        f"/admin/devices/device/{phone.pk}/config/", {"reveal": "1"}
    ).content.decode()

    assert "account.1.password = demo-sip-1001" in body
    assert demo.provisioning_password not in body
    assert "static.auto_provision.server.password = ********" in body


def test_staff_cannot_override_where_phones_provision_from(staff_client, two_organisations):
    phone = Device.objects.get(mac="805ec0000001")
    page = staff_client.get(admin_url(Device, "change", phone.pk))
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data |= management_data(staff_client, admin_url(Device, "change", phone.pk))
    data["raw_overrides"] = (
        "static.auto_provision.server.url = http://evil.example/\nlang.gui = Dutch"
    )
    data["is_active"] = "on"

    response = staff_client.post(admin_url(Device, "change", phone.pk), data)

    assert (
        "Only your provider may set these keys: static.auto_provision.server.url"
        in response.content.decode()
    )
    assert Device.objects.get(pk=phone.pk).raw_overrides == ""


def test_staff_do_not_see_the_organisations_raw_overrides(staff_client, two_organisations):
    demo, _ = two_organisations
    Organisation.objects.filter(pk=demo.pk).update(
        raw_overrides="static.security.user_password = admin:s3cret"
    )

    body = staff_client.get(admin_url(Organisation, "change", demo.pk)).content.decode()

    assert "s3cret" not in body


def test_staff_do_not_see_where_a_phone_was_registered_before_it_came_to_them(
    staff_client, two_organisations
):
    from rps.models import RpsDeviceState

    _, acme = two_organisations
    phone = Device.objects.get(mac="805ec0000001")
    RpsDeviceState.objects.update_or_create(
        mac=phone.mac, defaults={"device": phone, "organisation": acme, "status": "registered"}
    )

    body = staff_client.get(admin_url(Device, "change", phone.pk)).content.decode()

    assert "Registered" in body
    assert "Acme" not in body
