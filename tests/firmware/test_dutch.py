"""The firmware admin in Dutch for a Dutch browser, and in English without one (issue 18,
part 6). Firmware is the provider's: organisation staff see none of it, in any language."""

from __future__ import annotations

import pytest
from django.urls import reverse

from firmware import rollouts
from firmware.models import Rollout
from organisations.models import Organisation
from tests.factories import make_device, make_organisation
from tests.firmware.test_targets import NEW, make_image
from tests.phonebooks.factories import make_staff

DUTCH = {"accept-language": "nl"}


@pytest.fixture
def fleet(db):
    organisation = make_organisation("fleet")
    return [make_device(organisation, f"805ec0cc{n:04x}") for n in range(10)]


def test_the_rollout_list_is_in_dutch(admin_client, fleet):
    rollout = Rollout.objects.create(name="Lente", image=make_image(NEW), waves="10, 100")
    rollouts.start(rollout)

    html = admin_client.get(reverse("admin:firmware_rollout_changelist"), headers=DUTCH).text

    assert "Uitrollen" in html  # the plural
    assert "Terug op de versie" in html  # a column
    assert "Op status" in html  # the state filter
    assert "Bezig" in html  # the state's label
    assert "1 van 2 (10 %)" in html  # its wave


def test_the_rollout_list_stays_english_without_the_header(admin_client, fleet):
    Rollout.objects.create(name="Spring", image=make_image(NEW), waves="100")

    html = admin_client.get(reverse("admin:firmware_rollout_changelist")).text

    assert "Rollouts" in html and "Back on the version" in html
    assert "Uitrollen" not in html


def test_starting_a_rollout_says_so_in_dutch(admin_client, fleet):
    rollout = Rollout.objects.create(name="Lente", image=make_image(NEW), waves="10, 100")

    response = admin_client.post(
        reverse("admin:firmware_rollout_act", args=[rollout.pk, "start"]),
        headers=DUTCH,
        follow=True,
    )

    html = response.text
    assert "Starten: Lente is bezig. 10 telefoons in 2 golven." in html
    assert "Bediening" in html and "Voortgang" in html  # the page's own fieldsets
    assert "Wacht op zijn golf" in html  # a phone state, the waves table's column
    assert "Pauzeren" in html  # the buttons now offered


def test_a_refused_action_says_why_in_dutch(admin_client, fleet):
    rollout = Rollout.objects.create(name="Lente", image=make_image(NEW), waves="100")

    response = admin_client.post(
        reverse("admin:firmware_rollout_act", args=[rollout.pk, "pause"]),
        headers=DUTCH,
        follow=True,
    )

    assert "Alleen een lopende uitrol kan worden gepauzeerd." in response.text


def test_a_rollout_form_error_is_in_dutch(admin_client, fleet):
    image = make_image(NEW)

    response = admin_client.post(
        reverse("admin:firmware_rollout_add"),
        {
            "name": "Fout",
            "image": image.pk,
            "model_names": ["T46U"],
            "percentage": 100,
            "waves": "50, 10",
            "halt_share": 10,
            "wave_minutes": 90,
        },
        headers=DUTCH,
    )

    html = response.text.replace("&#x27;", "'")
    assert response.status_code == 200
    assert "is niet voor T46U; het is voor T54W" in html
    assert "De laatste golf moet 100 zijn (elke telefoon)." in html
    assert "Tijd per golf (minuten)" in html  # a field's label


def test_the_image_and_target_pages_are_in_dutch(admin_client, fleet):
    make_image(NEW)

    images = admin_client.get(reverse("admin:firmware_firmwareimage_changelist"), headers=DUTCH)
    add_image = admin_client.get(reverse("admin:firmware_firmwareimage_add"), headers=DUTCH)
    add_target = admin_client.get(reverse("admin:firmware_firmwaretarget_add"), headers=DUTCH)

    assert "Firmwarebestanden" in images.text and "Grootte" in images.text
    assert "Firmwarebestand" in add_image.text and "Telefoon of DECT-basisstation" in add_image.text
    assert "Bereik" in add_target.text and "W56H (handset)" in add_target.text
    assert "Het meest specifieke doel wint" in add_target.text


def test_the_distribution_is_in_dutch(admin_client, fleet):
    html = admin_client.get(reverse("admin:firmware_rollout_distribution"), headers=DUTCH).text

    assert "Firmwareverdeling" in html
    assert "Per organisatie" in html and "Gemelde firmware (telefoons)" in html
    assert "niet gemeld" in html  # the fleet reports no version yet


def test_organisation_staff_see_no_firmware_in_dutch_either(client, fleet):
    client.force_login(make_staff(Organisation.objects.get(slug="fleet")))

    for name in ("firmware_rollout_changelist", "firmware_firmwareimage_changelist"):
        assert client.get(reverse(f"admin:{name}"), headers=DUTCH).status_code == 403
