"""A phone's page as staff think of it: lines, keys (in order: add, remove, move), network,
security; the model's limits shown; what organisation staff may change."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from devices.models import Device, KeyProfile, KeyType, LineKey
from organisations.models import SettingsProfile
from tests.admin_forms import browser_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("loaddemo", stdout=StringIO())
    return Device.objects.get(mac="805ec0000001")


def change_url(device):
    return f"/admin/devices/device/{device.pk}/change/"


def key_rows(data):
    """The line-key inline's rows in the posted data: index -> its fields."""
    rows: dict[int, dict[str, str]] = {}
    for name, value in data.items():
        if name.startswith("line_keys-") and name.split("-")[1].isdigit():
            _, index, field = name.split("-", 2)
            rows.setdefault(int(index), {})[field] = value
    return rows


def with_inline_rows(client, url):
    """The page's data with the existing inline rows' values, as a browser posts them."""
    response = client.get(url)
    data = browser_form(client, url)
    for inline in response.context["inline_admin_formsets"]:
        for form in inline.formset.initial_forms:
            for name in form.fields:
                value = form[name].value()
                if isinstance(value, bool):
                    if value:
                        data[form.add_prefix(name)] = "on"
                elif value is not None:
                    data[form.add_prefix(name)] = str(value.pk if hasattr(value, "pk") else value)
    return data


def test_the_page_groups_settings_and_shows_the_models_limits(admin_client, demo):
    page = admin_client.get(change_url(demo)).content.decode()

    for heading in ("Keys", "Lines: SIP", "Network", "Security: this phone"):
        assert heading in page
    assert "A T54W has line keys 1 to 27 over 3 pages and 16 lines; it takes up to 3 modules" in (
        page
    )


def test_two_keys_swap_places_and_one_is_removed_in_one_save(admin_client, demo):
    park = LineKey.objects.get(device=demo, position=5)
    blf = LineKey.objects.create(device=demo, position=6, type=KeyType.BLF, value="1006")
    data = with_inline_rows(admin_client, change_url(demo))
    rows = {row["id"]: (index, row) for index, row in key_rows(data).items() if row.get("id")}
    park_index, _ = rows[str(park.pk)]
    blf_index, _ = rows[str(blf.pk)]
    data[f"line_keys-{park_index}-position"] = "6"
    data[f"line_keys-{blf_index}-position"] = "5"
    module_key = LineKey.objects.get(device=demo, module=1, position=1)
    module_index, _ = rows[str(module_key.pk)]
    data[f"line_keys-{module_index}-DELETE"] = "on"

    response = admin_client.post(change_url(demo), data)

    assert response.status_code == 302, response.context["inline_admin_formsets"]
    keys = {(k.module, k.position): k.value for k in LineKey.objects.filter(device=demo)}
    assert keys == {(0, 5): "1006", (0, 6): "700"}


def test_two_keys_in_one_place_are_refused_and_nothing_moves(admin_client, demo):
    LineKey.objects.create(device=demo, position=6, type=KeyType.BLF, value="1006")
    data = with_inline_rows(admin_client, change_url(demo))
    for index, row in key_rows(data).items():
        if row.get("position") == "6":
            data[f"line_keys-{index}-position"] = "5"

    response = admin_client.post(change_url(demo), data)

    assert response.status_code == 200
    assert "duplicate data for module and position, which must be unique" in (
        response.content.decode()
    )
    assert set(LineKey.objects.filter(device=demo).values_list("position", flat=True)) == {1, 5, 6}


def test_a_key_past_the_models_last_is_refused_on_the_page(admin_client, demo):
    data = with_inline_rows(admin_client, change_url(demo))
    new = int(data["line_keys-TOTAL_FORMS"])
    data["line_keys-TOTAL_FORMS"] = str(new + 1)
    data |= {
        f"line_keys-{new}-module": "0",
        f"line_keys-{new}-position": "30",
        f"line_keys-{new}-type": str(KeyType.SPEED_DIAL),
        f"line_keys-{new}-value": "112",
    }

    response = admin_client.post(change_url(demo), data)

    assert response.status_code == 200
    assert "A T54W has 27 line keys; there is no key 30." in response.content.decode()
    assert not LineKey.objects.filter(device=demo, position=30).exists()


def test_organisation_staff_edit_keys_but_not_the_providers_profile_or_web_passwords(client, demo):
    client.force_login(get_user_model().objects.get(username="demo-admin"))
    url = change_url(demo)
    page = client.get(url).content.decode()
    data = with_inline_rows(client, url)
    for index, row in key_rows(data).items():
        if row.get("position") == "5":
            data[f"line_keys-{index}-label"] = "Parking"
    data["profile"] = str(SettingsProfile.objects.get().pk)  # ignored: not on their page
    data["phone_admin_password"] = "Staff-typed-1"

    response = client.post(url, data)

    assert 'name="profile"' not in page and "phone_admin_password" not in page
    assert response.status_code == 302, response.context["adminform"].form.errors
    demo.refresh_from_db()
    assert LineKey.objects.get(device=demo, position=5).label == "Parking"
    assert demo.profile_id is None and demo.phone_admin_password == ""


def test_organisation_staff_manage_their_key_profiles(client, demo):
    client.force_login(get_user_model().objects.get(username="demo-admin"))

    listing = client.get("/admin/devices/keyprofile/")
    settings_profiles = client.get("/admin/organisations/settingsprofile/")

    names = [str(profile) for profile in listing.context["cl"].result_list]
    assert names == ["Reception"]  # not Acme's "Front desk"
    assert settings_profiles.status_code == 403
    profile = KeyProfile.objects.get(name="Reception")
    page = client.get(f"/admin/devices/keyprofile/{profile.pk}/change/")
    assert page.status_code == 200 and "Warehouse" in page.content.decode()


def test_the_preview_shows_the_layer_of_every_line(admin_client):
    call_command("loaddemo", stdout=StringIO())
    acme_phone = Device.objects.get(mac="001565000002")

    response = admin_client.get(f"/admin/devices/device/{acme_phone.pk}/config/")

    lines = dict(response.context["mac_lines"])
    assert lines["static.network.vlan.internet_port_vid = 20"] == "profile Secure TLS"
    assert lines["account.1.srtp_encryption = 2"] == "profile Secure TLS"
    assert lines["account.1.password = ********"] == "account"
    assert lines["linekey.2.value = 2010"] == "key profile Front desk"
    assert lines["linekey.5.type = 0"] == "default"
    common = dict(response.context["common_lines"])
    assert common["local_time.time_zone_name = Netherlands(Amsterdam)"] == "organisation"
    assert "profile Secure TLS" in response.content.decode()


def test_organisation_staff_never_see_the_providers_profile_names(client, demo):
    organisation = demo.organisation
    organisation.profile = SettingsProfile.objects.get(name="Secure TLS")
    organisation.save()
    demo.profile = organisation.profile
    demo.save()
    client.force_login(get_user_model().objects.get(username="demo-admin"))

    pages = [
        client.get("/admin/organisations/organisation/"),
        client.get(f"/admin/organisations/organisation/{organisation.pk}/change/"),
        client.get("/admin/devices/device/"),
        client.get(change_url(demo)),
    ]

    for page in pages:
        assert page.status_code == 200
        assert "Secure TLS" not in page.content.decode()


def test_staff_never_see_the_providers_override_lines_and_saving_keeps_them(client, demo):
    demo.raw_overrides = (
        "static.security.user_password = admin:Prov1der-pw\nfeatures.dnd.enable = 1"
    )
    demo.save()
    client.force_login(get_user_model().objects.get(username="demo-admin"))
    url = change_url(demo)

    page = client.get(url).content.decode()
    data = with_inline_rows(client, url)
    data["raw_overrides"] = "features.dnd.enable = 0"
    response = client.post(url, data)

    assert "Prov1der-pw" not in page and "features.dnd.enable = 1" in page
    assert response.status_code == 302, response.context["adminform"].form.errors
    demo.refresh_from_db()
    assert demo.raw_overrides == (
        "features.dnd.enable = 0\nstatic.security.user_password = admin:Prov1der-pw"
    )
