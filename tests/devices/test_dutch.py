"""The phones' admin in Dutch (issue 18, part 6): the list, its filters and actions, the
change form's errors, the configuration preview and the CSV import, for the provider and for
organisation staff; English without the browser asking for Dutch."""

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from devices import csv_io
from devices.models import AccessLog, SipAccount
from tests.factories import make_device
from tests.phonebooks.factories import make_staff

LIST = "/admin/devices/device/"
DUTCH = {"accept-language": "nl"}


def upload(client, text, headers=DUTCH):
    file = SimpleUploadedFile("p.csv", text.encode())
    return client.post(f"{LIST}import/", {"file": file}, headers=headers)


def csv_file(*rows):
    lines = [",".join(csv_io.HEADER)]
    lines += [",".join(row.get(name, "") for name in csv_io.HEADER) for row in rows]
    return "\n".join(lines) + "\n"


def test_the_phone_list_speaks_dutch_to_a_dutch_browser(admin_client, tenant_a):
    body = admin_client.get(LIST, headers=DUTCH).content.decode()

    assert "Telefoons" in body  # the app
    assert "Selecteer telefoon om te wijzigen" in body  # the model's name in Django's words
    assert "Laatst gezien" in body  # a column
    assert "laatste firmware" in body  # a filter's title
    assert "nooit geprovisioned" in body  # the status filter and badge
    assert "Geselecteerde telefoons exporteren als CSV" in body  # an action
    assert "CSV importeren" in body  # the object tools
    assert "Export selected phones as CSV" not in body


def test_without_the_header_the_phone_list_stays_english(admin_client, tenant_a):
    body = admin_client.get(LIST).content.decode()

    assert "Select device to change" in body
    assert "Export selected phones as CSV" in body
    assert "Import CSV" in body
    assert "never provisioned" in body
    assert "Geselecteerde telefoons" not in body


def test_organisation_staff_are_told_of_new_passwords_in_dutch(client, tenant_a):
    client.force_login(make_staff(tenant_a.organisation))
    data = {"action": "rotate_provisioning_passwords", "_selected_action": [tenant_a.device.pk]}

    response = client.post(LIST, data, headers=DUTCH, follow=True)

    body = response.content.decode()
    assert "1 telefoon heeft een nieuw provisioning-wachtwoord." in body
    assert "Synchroniseren met RPS" in body


def test_a_line_the_model_does_not_have_is_refused_in_dutch(tenant_a):
    account = SipAccount(device=make_device(tenant_a.organisation, model="T31G"), index=5)

    with translation.override("nl"):
        errors = account_errors(account)

    assert errors["index"] == ["Een T31G heeft 2 lijnen; lijn 5 valt erbuiten."]


def account_errors(account):
    try:
        account.clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


def test_the_import_reports_its_rows_problems_in_dutch(admin_client, tenant_a):
    text = csv_file({"organisation": "alpha", "mac": "805ec0123456", "model": "T99X"})

    body = upload(admin_client, text).content.decode()

    assert "Telefoons importeren" in body  # the page's title
    assert "Er is niets geïmporteerd: 1 rij moet eerst worden verbeterd." in body
    assert "model moet een van T19P_E2" in body
    assert "Een bestand uploaden" in body


def test_the_import_preview_counts_in_dutch(client, tenant_a):
    client.force_login(make_staff(tenant_a.organisation))
    text = csv_file({"mac": "805ec0123456", "model": "T54W", "active": "yes"})

    body = upload(client, text).content.decode()

    assert '<p id="import-summary">1 telefoon aan te maken.</p>' in body
    assert 'value="Importeren: 1 telefoon aan te maken"' in body
    assert "<td>aanmaken</td>" in body


def test_a_mac_of_another_organisation_is_refused_in_dutch(client, tenant_a, tenant_b):
    client.force_login(make_staff(tenant_a.organisation))
    text = csv_file({"mac": tenant_b.device.mac, "model": "T54W"})

    body = upload(client, text).content.decode()

    assert "kan niet worden toegevoegd" in body
    assert "neem dan contact op met uw provider" in body


def test_the_config_preview_speaks_dutch(admin_client, tenant_a):
    url = f"{LIST}{tenant_a.device.pk}/config/"

    body = admin_client.get(url, headers=DUTCH).content.decode()
    english = admin_client.get(url).content.decode()

    assert "Wijzigingen sinds de laatste download van de telefoon" in body
    assert "Wachtwoorden zijn gemaskeerd." in body
    assert "(algemeen bestand)" in body
    assert '<td class="layer">standaard</td>' in body  # the layer a line came from
    assert "override van de organisatie, override van de telefoon" in body  # the legend
    assert '<td class="layer">default</td>' in english
    assert "Changes since the phone's last download" in english


def test_the_access_log_shows_its_outcomes_in_dutch(client, tenant_a):
    AccessLog.objects.create(
        organisation=tenant_a.organisation,
        path=f"/{tenant_a.device.mac}.cfg",
        outcome=AccessLog.Outcome.WRONG_CREDENTIALS,
        status_code=401,
    )
    client.force_login(make_staff(tenant_a.organisation))

    body = client.get("/admin/devices/accesslog/", headers=DUTCH).content.decode()

    assert "Verkeerde inloggegevens" in body
    assert "Uitkomst" in body  # the column and the filter
    assert AccessLog.objects.get().outcome == "wrong_credentials"  # the value stays
