"""The provider runs rollouts from the admin: creates one, starts, pauses, resumes and rolls it
back with its buttons, and sees its progress, its waves and the phones not back; the firmware
distribution per model and organisation links to the phone list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from firmware import rollouts
from firmware.models import Rollout, RolloutPhone
from organisations.models import Organisation
from tests.factories import make_device, make_organisation
from tests.firmware.test_rollouts import ask, wave_of
from tests.firmware.test_targets import NEW, OLD, make_image
from tests.phonebooks.factories import make_staff


@pytest.fixture
def fleet(db):
    organisation = make_organisation("fleet")
    return [make_device(organisation, f"805ec0cc{n:04x}") for n in range(10)]


def act(admin_client, rollout: Rollout, action: str):
    return admin_client.post(
        reverse("admin:firmware_rollout_act", args=[rollout.pk, action]), follow=True
    )


def test_a_rollout_is_created_and_started_from_the_admin(admin_client, fleet):
    image = make_image(NEW)
    response = admin_client.post(
        reverse("admin:firmware_rollout_add"),
        {
            "name": "Spring release",
            "image": image.pk,
            "model_names": ["T54W"],
            "percentage": 100,
            "waves": "10, 100",
            "halt_share": 10,
            "wave_minutes": 90,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    rollout = Rollout.objects.get()

    response = act(admin_client, rollout, "start")

    assert "10 phones in 2 waves" in response.content.decode()
    rollout.refresh_from_db()
    assert rollout.state == Rollout.State.RUNNING


def test_an_image_not_for_the_chosen_model_is_refused(admin_client, fleet):
    image = make_image(NEW)

    response = admin_client.post(
        reverse("admin:firmware_rollout_add"),
        {
            "name": "Wrong",
            "image": image.pk,
            "model_names": ["T46U"],
            "percentage": 100,
            "waves": "100",
            "halt_share": 10,
            "wave_minutes": 90,
        },
    )

    assert response.status_code == 200
    assert "is not for T46U; it is for T54W" in response.content.decode()
    assert not Rollout.objects.exists()


def test_the_page_shows_progress_waves_and_the_phones_not_back(admin_client, client, fleet):
    rollout = Rollout.objects.create(
        name="Spring", image=make_image(NEW), waves="20, 100", halt_share=60, wave_minutes=30
    )
    rollouts.start(rollout)
    first = wave_of(rollout, 0)
    ask(client, first[0], OLD)
    ask(client, first[0], NEW)
    ask(client, first[1], OLD)  # not back
    rollouts.evaluate(rollout, now=timezone.now() + timedelta(minutes=31))

    page = admin_client.get(reverse("admin:firmware_rollout_change", args=[rollout.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html and "<polygon" in html
    assert page.context["waves"][0] == (1, [0, 0, 1, 1, 0, 0], 2)  # updated 1, failed 1
    assert [phone.device for phone in page.context["not_back"]] == [first[1]]
    assert reverse("admin:devices_device_change", args=[first[1].pk]) in html
    assert [name for name, _ in page.context["actions"]] == ["pause", "roll_back"]


def test_pause_resume_and_roll_back_from_the_buttons(admin_client, fleet):
    rollout = Rollout.objects.create(name="Spring", image=make_image(NEW), waves="100")
    act(admin_client, rollout, "start")

    act(admin_client, rollout, "pause")
    rollout.refresh_from_db()
    assert rollout.state == Rollout.State.PAUSED
    act(admin_client, rollout, "resume")
    rollout.refresh_from_db()
    assert rollout.state == Rollout.State.RUNNING
    act(admin_client, rollout, "roll_back")
    rollout.refresh_from_db()
    assert rollout.state == Rollout.State.ROLLED_BACK


def test_an_action_the_state_does_not_allow_says_so(admin_client, fleet):
    rollout = Rollout.objects.create(name="Spring", image=make_image(NEW), waves="100")

    response = act(admin_client, rollout, "pause")

    assert "Only a running rollout can be paused." in response.content.decode()


def test_the_scope_cannot_change_once_started(admin_client, fleet):
    rollout = Rollout.objects.create(name="Spring", image=make_image(NEW), waves="100")
    rollouts.start(rollout)

    page = admin_client.get(reverse("admin:firmware_rollout_change", args=[rollout.pk]))

    assert "waves" not in page.context["adminform"].form.fields
    assert "percentage" not in page.context["adminform"].form.fields


def test_an_action_is_a_post(admin_client, fleet):
    rollout = Rollout.objects.create(name="Spring", image=make_image(NEW), waves="100")

    response = admin_client.get(reverse("admin:firmware_rollout_act", args=[rollout.pk, "start"]))

    assert response.status_code == 405
    assert RolloutPhone.objects.count() == 0


def test_the_distribution_counts_phones_per_model_and_organisation(admin_client, fleet):
    other = make_organisation("other")
    make_device(other, model="T46U", last_firmware="108.86.0.45")
    for phone in fleet[:3]:
        phone.last_firmware = NEW
        phone.save()

    page = admin_client.get(reverse("admin:firmware_rollout_distribution"))

    by_model = {group["label"]: group["versions"] for group in page.context["tables"][0][1]}
    assert by_model["T54W"] == [
        ("not reported", 7, "model=T54W"),
        (NEW, 3, f"model=T54W&last_firmware={NEW}"),
    ]
    fleet_org = Organisation.objects.get(slug="fleet")
    by_org = {group["label"]: group for group in page.context["tables"][1][1]}
    assert by_org["Fleet"]["query"] == f"organisation__id__exact={fleet_org.pk}"
    # Each figure opens the phone list so filtered, and the list takes the filter.
    devices = reverse("admin:devices_device_changelist")
    listed = admin_client.get(f"{devices}?model=T54W&last_firmware={NEW}")
    assert listed.status_code == 200
    assert listed.context["cl"].result_count == 3


def test_organisation_staff_see_no_rollouts(client, fleet):
    organisation = Organisation.objects.get(slug="fleet")
    client.force_login(make_staff(organisation))

    assert client.get(reverse("admin:firmware_rollout_changelist")).status_code == 403
    assert client.get(reverse("admin:firmware_rollout_distribution")).status_code == 403


def test_staff_may_hold_back_only_when_the_provider_allows(client, fleet):
    organisation = Organisation.objects.get(slug="fleet")
    client.force_login(make_staff(organisation))
    page = reverse("admin:organisations_organisation_change", args=[organisation.pk])
    hold_back = reverse("admin:organisations_organisation_hold_back", args=[organisation.pk])

    assert "May hold back firmware" not in client.get(page).content.decode()  # provider only
    assert client.post(hold_back, {"hold_back": "on"}).status_code == 403
    organisation.refresh_from_db()
    assert not organisation.firmware_hold_back

    organisation.firmware_hold_back_allowed = True
    organisation.save()
    assert hold_back in client.get(page).content.decode()
    assert client.post(hold_back, {"hold_back": "on"}).status_code == 302
    organisation.refresh_from_db()
    assert organisation.holds_back_firmware
    client.post(hold_back, {})
    organisation.refresh_from_db()
    assert not organisation.firmware_hold_back


def test_staff_may_not_hold_back_another_organisation(client, fleet):
    other = make_organisation("other", firmware_hold_back_allowed=True)
    client.force_login(make_staff(Organisation.objects.get(slug="fleet")))

    response = client.post(
        reverse("admin:organisations_organisation_hold_back", args=[other.pk]), {"hold_back": "on"}
    )

    assert response.status_code in (403, 404)
    other.refresh_from_db()
    assert not other.firmware_hold_back


def test_a_started_rollout_cannot_be_deleted(admin_client, fleet):
    rollout = Rollout.objects.create(name="Spring", image=make_image(NEW), waves="100")
    draft = Rollout.objects.create(name="Draft", image=rollout.image, waves="100")
    rollouts.start(rollout)

    changelist = reverse("admin:firmware_rollout_changelist")

    page = admin_client.post(reverse("admin:firmware_rollout_delete", args=[rollout.pk]))
    admin_client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [rollout.pk, draft.pk], "post": "yes"},
    )
    assert page.status_code == 403
    assert Rollout.objects.count() == 2  # Django refuses the whole selection
    admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [draft.pk], "post": "yes"}
    )
    assert list(Rollout.objects.all()) == [rollout]


def test_saving_a_running_rollouts_name_keeps_what_the_evaluation_decided(
    admin_client, client, fleet
):
    rollout = Rollout.objects.create(name="Spring", image=make_image(NEW), waves="100")
    rollouts.start(rollout)
    url = reverse("admin:firmware_rollout_change", args=[rollout.pk])
    form = admin_client.get(url).context["adminform"].form  # read while running
    Rollout.objects.filter(pk=rollout.pk).update(state=Rollout.State.HALTED)  # cron, meanwhile

    response = admin_client.post(url, {**form.initial, "name": "Spring 2027"})

    assert response.status_code == 302
    rollout.refresh_from_db()
    assert (rollout.name, rollout.state) == ("Spring 2027", Rollout.State.HALTED)
