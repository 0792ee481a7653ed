"""Trust between server and phone (issue 14): each phone its own credentials, which open
only its own files; the organisation's only until then (by default); resources only for the
phone itself; valid credentials never a 401 for what is not the phone's fault.

Each case of the issue is played through HTTP as a phone plays it: a request without
credentials, the 401 challenge, the Digest answer to that challenge's nonce."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.test import Client

from devices.models import AccessLog, Device, UnassignedPhone
from organisations.models import Organisation, OrganisationCredentials
from phonebooks.models import Phonebook
from tests.factories import make_account, make_device, resource_path, user_agent
from tests.media_assets.media import choose, make_ringtone, make_wallpaper
from tests.phone_client import digest_authorization, www_authenticate

# Many count failures toward a limit: none may straddle the turn of a throttle window.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("one_throttle_window")]
Outcome = AccessLog.Outcome


@dataclass
class Phone:
    """A Yealink phone on the wire: its MAC in the User-Agent, the credentials it was given
    (by RPS, by hand, then by its MAC file), Digest with a fresh challenge per file."""

    client: Client
    mac: str
    username: str
    password: str
    model: str = "T54W"
    firmware: str = "96.86.0.100"
    ip: str = "198.51.100.7"
    answers: list[tuple[str, int]] = field(default_factory=list)  # (path, status) of answers

    @property
    def agent(self) -> str:
        return user_agent(self.mac, model=self.model, fw=self.firmware)

    def get(self, path: str):
        """One file: asked for without credentials, then with the answer to the challenge."""
        first = self.client.get(path, headers={"User-Agent": self.agent}, REMOTE_ADDR=self.ip)
        if first.status_code != 401:
            return first  # a resource URL with its token: no exchange at all
        challenge = next(v for v in www_authenticate(first) if v.startswith("Digest"))
        authorization = digest_authorization(challenge, self.username, self.password, path)
        response = self.client.get(
            path,
            headers={"User-Agent": self.agent, "Authorization": authorization},
            REMOTE_ADDR=self.ip,
        )
        self.answers.append((path, response.status_code))
        return response

    def provision(self) -> dict[str, str]:
        """A round: the common file, the MAC file, then what the MAC file points to; the
        credentials the MAC file sets are used from the next round on."""
        assert self.get(f"/y0000000000{self.firmware.split('.')[0]}.cfg").status_code == 200
        mac_file = self.get(f"/{self.mac}.cfg")
        assert mac_file.status_code == 200, mac_file.status_code
        config = dict(line.split(" = ", 1) for line in mac_file.content.decode().splitlines()[1:])
        for key in ("wallpaper_upload.url", "ringtone.url", "remote_phonebook.data.1.url"):
            if config.get(key, "%NULL%") != "%NULL%":
                path = "/" + config[key].split("/", 3)[3]
                assert self.get(path).status_code == 200, key
        self.username = config["static.auto_provision.server.username"]
        self.password = config["static.auto_provision.server.password"]
        return config


def phone_of(client, tenant, device: Device | None = None) -> Phone:
    """A phone set up by hand (or by an RPS that knew only the organisation) with the
    organisation's credentials."""
    device = device or tenant.device
    return Phone(client, device.mac, tenant.username, tenant.password)


def outcomes() -> list[str]:
    return list(AccessLog.objects.order_by("pk").values_list("outcome", flat=True))


# --- per-phone credentials -----------------------------------------------------------------


def test_every_phone_has_its_own_random_credentials(tenant_a):
    other = make_device(tenant_a.organisation)
    passwords = {tenant_a.device.provisioning_password, other.provisioning_password}

    assert len(passwords) == 2
    assert all(len(password) >= 22 for password in passwords)  # 24 of 62 characters: >128 bits
    assert tenant_a.device.provisioning_username == tenant_a.device.mac


def test_a_phone_switching_to_its_own_credentials_never_gets_a_401_to_valid_ones(client, tenant_a):
    Phonebook.objects.create(organisation=tenant_a.organisation, name="All", title="All")
    choose(
        tenant_a.organisation,
        wallpaper=make_wallpaper(tenant_a.organisation, "logo.png"),
        ringtone=make_ringtone(tenant_a.organisation, "ring.wav"),
    )
    phone = phone_of(client, tenant_a)

    first = phone.provision()  # with the organisation's credentials
    second = phone.provision()  # with its own, from the first MAC file
    third = phone.provision()

    assert (phone.username, phone.password) == (
        tenant_a.device.mac,
        tenant_a.device.provisioning_password,
    )
    assert first == second == third
    assert [status for _, status in phone.answers] == [200] * len(phone.answers)
    device = Device.objects.get(pk=tenant_a.device.pk)
    assert device.own_credentials_used_at is not None
    # Now the organisation's credentials no longer open its files (the default policy).
    refused = phone_of(client, tenant_a).get("/805ec0aaaa01.cfg")
    assert refused.status_code == 401
    assert b"alpha-sip-101" not in refused.content
    assert outcomes()[-1] == Outcome.ORGANISATION_REFUSED


def test_a_phones_own_credentials_open_none_of_its_colleagues_files(client, tenant_a):
    colleague = make_device(tenant_a.organisation, "805ec0aaaa02")
    make_account(colleague, 1, password="colleague-sip-secret")
    Phonebook.objects.create(organisation=tenant_a.organisation, name="All", title="All")
    # An insider who has their own phone's credentials (from its web UI or its MAC file)
    # and a colleague's MAC from its label.
    insider = Phone(
        client, colleague.mac, tenant_a.device.mac, tenant_a.device.provisioning_password
    )

    mac_file = insider.get(f"/{colleague.mac}.cfg")
    common = insider.get("/y000000000096.cfg")

    assert (mac_file.status_code, common.status_code) == (404, 404)
    assert b"colleague-sip-secret" not in mac_file.content
    assert outcomes() == [Outcome.MAC_MISMATCH, Outcome.MAC_MISMATCH]


def test_the_organisations_credentials_open_no_phone_that_has_its_own(client, tenant_a):
    # The attack of the issue: the organisation's password (from any phone's config, before)
    # and a colleague's MAC. The colleague's phone has provisioned with its own credentials.
    colleague = make_device(tenant_a.organisation, "805ec0aaaa02")
    make_account(colleague, 1, password="colleague-sip-secret")
    Phone(client, colleague.mac, colleague.mac, colleague.provisioning_password).provision()

    attack = phone_of(client, tenant_a, colleague).get(f"/{colleague.mac}.cfg")

    assert attack.status_code == 401
    assert b"colleague-sip-secret" not in attack.content
    row = AccessLog.objects.latest("pk")
    assert (row.outcome, row.username, row.mac) == (
        Outcome.ORGANISATION_REFUSED,
        tenant_a.username,
        colleague.mac,
    )


@pytest.mark.parametrize(
    ("policy", "before", "after"),
    [
        (OrganisationCredentials.BOOTSTRAP, 200, 401),
        (OrganisationCredentials.ALWAYS, 200, 200),
        (OrganisationCredentials.NEVER, 401, 401),
    ],
)
def test_the_organisations_policy_decides_when_its_credentials_open(
    client, tenant_a, policy, before, after
):
    Organisation.objects.filter(pk=tenant_a.organisation.pk).update(organisation_credentials=policy)
    by_organisation = phone_of(client, tenant_a)

    first = by_organisation.get("/805ec0aaaa01.cfg").status_code
    own = Phone(
        client, tenant_a.device.mac, tenant_a.device.mac, tenant_a.device.provisioning_password
    )
    assert own.get("/805ec0aaaa01.cfg").status_code == 200  # its own always open
    second = by_organisation.get("/805ec0aaaa01.cfg").status_code

    assert (first, second) == (before, after)


def test_a_phone_without_a_mac_in_its_user_agent_is_known_by_its_own_user_name(client, tenant_a):
    phone = Phone(
        client, tenant_a.device.mac, tenant_a.device.mac, tenant_a.device.provisioning_password
    )
    phone.firmware = "96.86.0.100"
    no_mac = "Yealink SIP-T54W 96.86.0.100"
    first = client.get("/y000000000096.cfg", headers={"User-Agent": no_mac})
    challenge = next(v for v in www_authenticate(first) if v.startswith("Digest"))
    header = digest_authorization(challenge, phone.username, phone.password, "/y000000000096.cfg")

    response = client.get(
        "/y000000000096.cfg", headers={"User-Agent": no_mac, "Authorization": header}
    )

    assert response.status_code == 200
    row = AccessLog.objects.get()
    assert (row.device, row.organisation) == (tenant_a.device, tenant_a.organisation)


# --- rotation --------------------------------------------------------------------------------


def test_a_rotated_password_works_like_the_organisations(client, tenant_a):
    phone = Phone(
        client, tenant_a.device.mac, tenant_a.device.mac, tenant_a.device.provisioning_password
    )
    phone.provision()
    device = Device.objects.get(pk=tenant_a.device.pk)
    old = device.provisioning_password
    device.rotate_provisioning_password()
    device.save()

    phone.provision()  # with the old one, which still opens: it gets the new one
    assert (phone.password, outcomes()[-2]) == (device.provisioning_password, "success_previous")
    phone.provision()  # with the new one: the old one is done with

    assert [status for _, status in phone.answers] == [200] * len(phone.answers)
    stale = Phone(client, device.mac, device.mac, old).get(f"/{device.mac}.cfg")
    assert stale.status_code == 401
    assert Device.objects.get(pk=device.pk).previous_provisioning_password == ""


def test_the_old_password_is_refused_after_the_grace_period(client, tenant_a):
    device = Device.objects.get(pk=tenant_a.device.pk)
    old = device.provisioning_password
    device.rotate_provisioning_password(grace_days=0)
    device.save()

    assert Phone(client, device.mac, device.mac, old).get(f"/{device.mac}.cfg").status_code == 401


# --- resources only for the phone itself ----------------------------------------------------


def test_a_mac_alone_reads_no_phonebook_wallpaper_or_ringtone(client, tenant_a):
    book = Phonebook.objects.create(organisation=tenant_a.organisation, name="All", title="All")
    make_wallpaper(tenant_a.organisation, "logo.png")
    make_ringtone(tenant_a.organisation, "ring.wav")
    headers = {"User-Agent": user_agent(tenant_a.device)}  # the MAC from its label

    answers = [
        client.get(path, headers=headers)
        for path in (f"/pb-t5x-{book.pk}.xml", "/logo.png", "/ring.wav")
    ]

    assert [response.status_code for response in answers] == [401, 401, 401]
    assert all(response.content == b"Authentication required\n" for response in answers)


def test_guessing_phonebook_ids_is_throttled(client, tenant_a, settings):
    settings.THROTTLE_MAX_FAILURES_PER_IP = 20
    Phonebook.objects.create(organisation=tenant_a.organisation, name="All", title="All")
    headers = {"User-Agent": user_agent(tenant_a.device)}
    guessed_token = "/p/805ec0aaaa01/" + "A" * 22

    statuses = [
        client.get(f"{guessed_token}/pb-t5x-{n}.xml", headers=headers).status_code
        for n in range(1, 401)
    ]

    assert statuses[:20] == [404] * 20
    assert set(statuses[20:]) == {429}
    # The phone itself, with its token, is not refused for the guesser's failures.
    own = resource_path(tenant_a.device, "pb-t5x-1.xml")
    assert client.get(own, headers=headers).status_code in (200, 404)
    assert client.get(own, headers=headers).status_code != 429


def test_names_of_files_that_do_not_exist_count_as_failures(client, tenant_a, settings):
    settings.THROTTLE_MAX_FAILURES_PER_IP = 5
    phone = {"User-Agent": user_agent(tenant_a.device)}
    for n in range(5):
        client.get(resource_path(tenant_a.device, f"guess-{n}.png"), headers=phone)

    # Over the address's limit: what is not the phone's own proof is not even checked.
    assert client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers()).status_code == 429
    assert client.get("/805ec0aaaa01.cfg", headers=tenant_a.own_headers()).status_code == 200


def test_softkeys_and_the_ca_certificate_stay_public(client):
    from media_assets.models import SoftkeyFile
    from tests.media_assets.media import make_ca_certificate

    SoftkeyFile.objects.create(name="CallIn", call_state="CallIn", content="<CallIn/>")
    make_ca_certificate()

    assert client.get("/xml/_global/CallIn.xml").status_code == 200
    assert client.get("/ca.crt").status_code == 200


# --- unassigned phones --------------------------------------------------------------------------


def test_valid_credentials_for_an_unknown_mac_get_a_404_and_a_place_on_the_list(client, tenant_a):
    stranger = Phone(
        client,
        "805ec0bbbb01",
        tenant_a.username,
        tenant_a.password,
        model="T46U",
        firmware="108.86.0.45",
        ip="192.0.2.44",
    )

    first = stranger.get("/805ec0bbbb01.cfg")
    again = stranger.get("/y000000000108.cfg")

    assert (first.status_code, again.status_code) == (404, 404)  # no password prompt
    listed = UnassignedPhone.objects.get()
    assert (
        listed.organisation,
        listed.mac,
        listed.model,
        listed.firmware,
        listed.ip,
        listed.requests,
    ) == (tenant_a.organisation, "805ec0bbbb01", "T46U", "108.86.0.45", "192.0.2.44", 2)
    assert outcomes() == [Outcome.UNASSIGNED, Outcome.UNASSIGNED]


def test_another_organisations_mac_is_listed_like_any_unknown_one(client, tenant_a, tenant_b):
    # Listed when free and left off when taken, the list told whoever has the organisation's
    # credentials which MACs other organisations have, unrecorded and without limit.
    theirs = Phone(client, tenant_b.device.mac, tenant_a.username, tenant_a.password)
    free = Phone(client, "805ec0bbbb01", tenant_a.username, tenant_a.password)

    answers = [theirs.get(f"/{theirs.mac}.cfg"), free.get(f"/{free.mac}.cfg")]

    assert [answer.status_code for answer in answers] == [404, 404]
    listed = UnassignedPhone.objects.filter(organisation=tenant_a.organisation)
    assert sorted(listed.values_list("mac", flat=True)) == sorted([tenant_b.device.mac, free.mac])
    assert outcomes() == [Outcome.UNASSIGNED, Outcome.UNASSIGNED]
    assert Device.objects.get(mac=tenant_b.device.mac).organisation == tenant_b.organisation


def test_enrolment_never_takes_or_serves_another_organisations_phone(client, tenant_a, tenant_b):
    Organisation.objects.filter(pk=tenant_a.organisation.pk).update(enrol_unknown_phones=True)
    theirs = Phone(client, tenant_b.device.mac, tenant_a.username, tenant_a.password, model="T46U")

    response = theirs.get(f"/{theirs.mac}.cfg")

    assert response.status_code == 404
    assert tenant_b.accounts[0].password.encode() not in response.content
    assert Device.objects.get(mac=tenant_b.device.mac).organisation == tenant_b.organisation
    assert UnassignedPhone.objects.get().organisation == tenant_a.organisation


def test_wrong_credentials_for_an_unknown_mac_are_a_401_as_before(client, tenant_a):
    outsider = Phone(client, "805ec0bbbb01", tenant_a.username, "not-the-password")

    assert outsider.get("/805ec0bbbb01.cfg").status_code == 401
    assert not UnassignedPhone.objects.exists()
    assert outcomes() == [Outcome.MAC_UNKNOWN]


def test_a_deactivated_phone_or_organisation_gets_a_404_to_valid_credentials(client, tenant_a):
    Device.objects.filter(pk=tenant_a.device.pk).update(is_active=False)
    assert phone_of(client, tenant_a).get("/805ec0aaaa01.cfg").status_code == 404
    Device.objects.filter(pk=tenant_a.device.pk).update(is_active=True)
    Organisation.objects.filter(pk=tenant_a.organisation.pk).update(is_active=False)
    from devices import serving

    serving.reset()  # the updates above sent no signal
    stranger = Phone(client, "805ec0bbbb01", tenant_a.username, tenant_a.password)

    assert phone_of(client, tenant_a).get("/805ec0aaaa01.cfg").status_code == 404
    assert stranger.get("/805ec0bbbb01.cfg").status_code == 404
    assert outcomes() == [Outcome.INACTIVE] * 3
    assert not UnassignedPhone.objects.exists()


def test_adding_the_phone_takes_it_off_the_list(client, tenant_a):
    Phone(client, "805ec0bbbb01", tenant_a.username, tenant_a.password).get("/805ec0bbbb01.cfg")

    make_device(tenant_a.organisation, "805ec0bbbb01")

    assert not UnassignedPhone.objects.exists()
    assert phone_of(client, tenant_a, Device.objects.get(mac="805ec0bbbb01")).provision()


def test_an_organisation_may_enrol_unknown_phones_automatically(client, tenant_a):
    Organisation.objects.filter(pk=tenant_a.organisation.pk).update(enrol_unknown_phones=True)
    stranger = Phone(client, "805ec0bbbb01", tenant_a.username, tenant_a.password, model="T46U")

    config = stranger.provision()

    device = Device.objects.get(mac="805ec0bbbb01")
    assert (device.organisation, device.model) == (tenant_a.organisation, "T46U")
    assert config["static.auto_provision.server.username"] == device.mac
    assert not UnassignedPhone.objects.exists()


def test_an_unknown_model_is_listed_even_with_enrolment_on(client, tenant_a):
    Organisation.objects.filter(pk=tenant_a.organisation.pk).update(enrol_unknown_phones=True)
    stranger = Phone(client, "805ec0bbbb01", tenant_a.username, tenant_a.password, model="X99")

    assert stranger.get("/805ec0bbbb01.cfg").status_code == 404
    assert UnassignedPhone.objects.get().model == "X99"
    assert not Device.objects.filter(mac="805ec0bbbb01").exists()


def test_the_list_is_bounded_per_organisation(client, tenant_a, settings):
    settings.UNASSIGNED_PHONES_MAX = 3
    for n in range(5):
        mac = f"805ec0bbbb{n:02x}"
        Phone(client, mac, tenant_a.username, tenant_a.password).get(f"/{mac}.cfg")

    assert UnassignedPhone.objects.count() == 3
    assert outcomes() == [Outcome.UNASSIGNED] * 5


# --- an existing installation ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_every_existing_phone_its_own_password():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    before = [
        ("devices", "0010_digest_replay_outcome"),
        ("organisations", "0006_managed_settings_handsets_seen_offsets"),
    ]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    blank = {"managed_settings": "", "retired_override_keys": "", "raw_overrides": ""}
    organisation = old.get_model("organisations", "Organisation").objects.create(
        name="Old",
        slug="old",
        provisioning_username="old",
        provisioning_password="old-secret-pw",
        **blank,
    )
    OldDevice = old.get_model("devices", "Device")
    OldDevice.objects.bulk_create(
        [
            OldDevice(organisation_id=organisation.pk, mac=f"805ec0dd{n:04x}", **blank)
            for n in range(25)
        ]
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    passwords = [device.provisioning_password for device in Device.objects.all()]
    assert len(passwords) == 25
    assert len(set(passwords)) == 25  # each its own, not one default for all
    assert all(len(password) == 24 and password.isalnum() for password in passwords)
    with connection.cursor() as cursor:
        cursor.execute("SELECT provisioning_password FROM devices_device")
        assert all(row[0].startswith("enc1:") for row in cursor.fetchall())  # encrypted


def test_a_deleted_phone_with_its_own_credentials_gets_a_404_and_them_back_when_added(
    client, tenant_a
):
    device = tenant_a.device
    phone = Phone(client, device.mac, device.mac, device.provisioning_password)
    phone.provision()
    Device.objects.filter(pk=device.pk).delete()  # the queryset's delete, as the admin's action

    gone = phone.get(f"/{device.mac}.cfg")

    assert gone.status_code == 404  # valid credentials, deleted phone: never a 401
    assert UnassignedPhone.objects.get().organisation == tenant_a.organisation
    again = make_device(tenant_a.organisation, device.mac)
    assert again.provisioning_password == phone.password
    assert phone.get(f"/{device.mac}.cfg").status_code == 200
    assert outcomes()[-2:] == [Outcome.UNASSIGNED, Outcome.SUCCESS]


def test_another_organisation_adding_a_deleted_phones_mac_gets_new_credentials(
    client, tenant_a, tenant_b
):
    """Found while building issue 15: the deleted phone's credentials went to whoever added
    its MAC next, so the phone they are in (still Alpha's, say) read Bravo's MAC file."""
    device = tenant_a.device
    alphas = Phone(client, device.mac, device.mac, device.provisioning_password)
    alphas.provision()
    Device.objects.filter(pk=device.pk).delete()

    bravos = make_device(tenant_b.organisation, device.mac)

    assert bravos.provisioning_password != alphas.password
    assert alphas.get(f"/{device.mac}.cfg").status_code == 401
    assert outcomes()[-1] == Outcome.WRONG_CREDENTIALS


def test_a_deleted_phones_wrong_password_is_still_a_401(client, tenant_a):
    device = tenant_a.device
    Device.objects.filter(pk=device.pk).delete()

    assert Phone(client, device.mac, device.mac, "a-guess").get(
        f"/{device.mac}.cfg"
    ).status_code == (401)
    assert not UnassignedPhone.objects.exists()


# --- found by an attack on the running server (issue 14's review) ---------------------------


def test_organisation_credentials_without_a_mac_open_nothing_once_every_phone_has_its_own(
    client, tenant_a
):
    make_wallpaper(tenant_a.organisation, "logo.png")
    no_mac = {"User-Agent": "Yealink SIP-T54W 96.86.0.100"}

    def by_organisation(path: str) -> int:
        return client.get(path, headers={**tenant_a.phone_headers(), **no_mac}).status_code

    # Still bootstrapping (its phone has not used its own credentials): the common file.
    assert by_organisation("/y000000000096.cfg") == 200
    Phone(
        client, tenant_a.device.mac, tenant_a.device.mac, tenant_a.device.provisioning_password
    ).provision()

    assert by_organisation("/y000000000096.cfg") == 401
    assert by_organisation("/y000000000000.boot") == 401
    assert by_organisation("/logo.png") == 401
    assert outcomes()[-1] == Outcome.ORGANISATION_REFUSED


def test_a_wallpaper_needs_a_phone_even_with_organisation_credentials(client, tenant_a):
    make_wallpaper(tenant_a.organisation, "logo.png")
    headers = {**tenant_a.phone_headers(), "User-Agent": "curl/8.0"}  # still bootstrapping

    assert client.get("/logo.png", headers=headers).status_code == 404


def test_the_old_password_ends_in_every_process_once_the_phone_used_the_new_one(
    client, tenant_a, settings
):
    from devices import serving

    settings.CONFIG_CACHE = True
    serving.reset()
    device = Device.objects.get(pk=tenant_a.device.pk)
    old, old_token = device.provisioning_password, resource_path(device, "logo.png")
    device.rotate_provisioning_password()
    device.save()
    make_wallpaper(tenant_a.organisation, "logo.png")
    with_old = Phone(client, device.mac, device.mac, old)
    assert with_old.get(f"/{device.mac}.cfg").status_code == 200  # this process keeps it
    # The phone uses its new password through another process: only the database knows.
    Device.objects.filter(pk=device.pk).update(
        previous_provisioning_password="", previous_password_valid_until=None
    )

    assert with_old.get(f"/{device.mac}.cfg").status_code == 401
    agent = {"User-Agent": user_agent(device)}
    assert client.get(old_token, headers=agent).status_code == 404
    assert client.get(resource_path(device, "logo.png"), headers=agent).status_code == 200


def test_an_old_token_in_its_grace_period_is_logged_as_the_previous_password(client, tenant_a):
    make_wallpaper(tenant_a.organisation, "logo.png")
    device = Device.objects.get(pk=tenant_a.device.pk)
    old_token = resource_path(device, "logo.png")
    device.rotate_provisioning_password()
    device.save()

    assert client.get(old_token, headers={"User-Agent": user_agent(device)}).status_code == 200
    assert outcomes() == [Outcome.SUCCESS_PREVIOUS_PASSWORD]


def test_the_preview_shows_no_token_unless_revealed(admin_client, tenant_a):
    Phonebook.objects.create(organisation=tenant_a.organisation, name="All", title="All")
    token = tenant_a.device.resource_url("x").split("/")[-2]

    masked = admin_client.get(f"/admin/devices/device/{tenant_a.device.pk}/config/")

    assert token not in masked.content.decode()
    assert f"/p/{tenant_a.device.mac}/…/pb-t5x-" in masked.content.decode()


def test_the_access_log_keeps_no_token_wherever_the_site_is_mounted(client, tenant_a):
    make_wallpaper(tenant_a.organisation, "logo.png")
    path = resource_path(tenant_a.device, "logo.png")

    client.get(path, headers={"User-Agent": user_agent(tenant_a.device)}, SCRIPT_NAME="/q")

    logged = AccessLog.objects.get().path
    assert path.split("/")[3] not in logged
    assert logged.endswith(f"/p/{tenant_a.device.mac}/…/logo.png")


def test_a_phones_own_user_name_may_be_its_mac_in_capitals(client, tenant_a):
    device = tenant_a.device
    phone = Phone(client, device.mac, device.mac.upper(), device.provisioning_password)

    assert phone.get(f"/{device.mac}.cfg").status_code == 200


def test_any_user_name_leaves_a_short_throttle_key(client, tenant_a):
    import warnings

    from django.core.cache.backends.base import CacheKeyWarning

    from tests.conftest import basic

    odd = "x" * 3000
    headers = {"User-Agent": user_agent(tenant_a.device), "Authorization": basic(odd, "pw")}

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert client.get(f"/{tenant_a.device.mac}.cfg", headers=headers).status_code == 401
    assert not [w for w in caught if issubclass(w.category, CacheKeyWarning)]
