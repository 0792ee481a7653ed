"""Rollouts in waves, through the phones' real requests: a wave's phones are sent the image,
come back reporting its version, and the next wave opens; too many not back halts it."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from devices.models import Device
from firmware import rollouts
from firmware.models import FirmwareTarget, Rollout, RolloutPhone
from tests.factories import make_device, make_organisation, own_basic, user_agent
from tests.firmware.test_targets import NEW, OLD, firmware_lines, make_image

Phone = RolloutPhone.State


def ask(client, device: Device, firmware: str) -> list[str]:
    """The phone asks for its MAC file as a phone does; its firmware lines."""
    response = client.get(
        f"/{device.mac}.cfg",
        headers={"User-Agent": user_agent(device, fw=firmware), "Authorization": own_basic(device)},
    )
    assert response.status_code == 200
    return firmware_lines(response.content.decode())


@pytest.fixture
def phones(db):
    organisation = make_organisation("fleet")
    return [make_device(organisation, f"805ec0bb{n:04x}") for n in range(20)]


@pytest.fixture
def rollout(phones):
    image = make_image(NEW)
    return Rollout.objects.create(
        name="96.86.0.120 everywhere", image=image, waves="10, 50, 100", wave_minutes=60
    )


def wave_of(rollout: Rollout, wave: int) -> list[Device]:
    return [phone.device for phone in rollout.phones.filter(wave=wave).select_related("device")]


def test_starting_picks_every_phone_in_scope_into_its_waves(rollout, phones):
    assert rollouts.start(rollout) == 20

    sizes = [rollout.phones.filter(wave=wave).count() for wave in range(3)]
    assert sizes == [2, 8, 10]  # 10 %, then up to 50 %, then the rest
    assert set(rollout.phones.values_list("from_version", flat=True)) == {""}  # never asked
    rollout.refresh_from_db()
    assert rollout.state == Rollout.State.RUNNING
    assert rollout.phones.filter(state=Phone.OFFERED).count() == 2


def test_only_the_open_waves_phones_are_sent_the_image(client, rollout, phones):
    rollouts.start(rollout)
    first = set(wave_of(rollout, 0))

    sent = {phone for phone in phones if ask(client, phone, OLD)}

    assert sent == first


def test_a_wave_whose_phones_came_back_opens_the_next(client, rollout):
    rollouts.start(rollout)
    first, second = wave_of(rollout, 0), wave_of(rollout, 1)
    for phone in first:
        assert ask(client, phone, OLD)  # sent the image, it updates and restarts
        assert ask(client, phone, NEW) == []  # back on the new version: nothing more to fetch

    rollout = rollouts.evaluate(rollout)

    assert rollout.wave == 1
    assert set(rollout.phones.filter(state=Phone.UPDATED).values_list("device", flat=True)) == {
        phone.pk for phone in first
    }
    assert all(ask(client, phone, OLD) for phone in second)


def test_a_phone_on_the_old_version_is_not_back(client, rollout):
    rollouts.start(rollout)
    first = wave_of(rollout, 0)
    for phone in first:
        ask(client, phone, OLD)  # asked, got the URL, but the upgrade did not take

    rollout = rollouts.evaluate(rollout)

    assert rollout.wave == 0
    assert rollout.phones.filter(state=Phone.UPDATED).count() == 0


def test_too_many_not_back_in_time_halts_it_and_tells_the_provider(
    client, rollout, settings, django_capture_on_commit_callbacks
):
    settings.ADMINS = [("Provider NOC", "noc@provider.example")]
    rollouts.start(rollout)
    first, second = wave_of(rollout, 0), wave_of(rollout, 1)
    ask(client, first[0], OLD)
    ask(client, first[0], NEW)  # one back
    ask(client, first[1], OLD)  # one asked and never came back: 50 %, above the 10 %
    later = timezone.now() + timedelta(minutes=61)

    with django_capture_on_commit_callbacks(execute=True):
        rollout = rollouts.evaluate(rollout, now=later)

    assert rollout.state == Rollout.State.HALTED
    assert "1 of the 2 phones" in rollout.halt_reason
    assert [message.to for message in mail.outbox] == [["noc@provider.example"]]
    assert "halted" in mail.outbox[0].subject
    assert not any(ask(client, phone, OLD) for phone in second)  # no further wave
    assert rollouts.evaluate(rollout, now=later + timedelta(hours=1)).state == "halted"


def test_a_few_not_back_within_the_share_are_failed_and_the_next_wave_opens(client, phones):
    image = make_image(NEW)
    rollout = Rollout.objects.create(
        name="tolerant", image=image, waves="50, 100", halt_share=20, wave_minutes=60
    )
    rollouts.start(rollout)
    first = wave_of(rollout, 0)
    for phone in first[:9]:
        ask(client, phone, OLD)
        ask(client, phone, NEW)
    ask(client, first[9], OLD)  # 1 of 10: 10 %, within the 20 %

    rollout = rollouts.evaluate(rollout, now=timezone.now() + timedelta(minutes=61))

    assert rollout.state == Rollout.State.RUNNING and rollout.wave == 1
    assert list(rollouts.not_back(rollout).values_list("device", "state")) == [
        (first[9].pk, Phone.FAILED)
    ]


def test_phones_that_never_asked_are_absent_not_failed(client, phones):
    rollout = Rollout.objects.create(
        name="offline phones", image=make_image(NEW), waves="50, 100", wave_minutes=60
    )
    rollouts.start(rollout)
    first = wave_of(rollout, 0)
    for phone in first[:5]:  # the other five stay switched off during the wave
        ask(client, phone, OLD)
        ask(client, phone, NEW)

    rollout = rollouts.evaluate(rollout, now=timezone.now() + timedelta(minutes=61))

    assert rollout.wave == 1
    assert rollout.phones.filter(wave=0, state=Phone.ABSENT).count() == 5
    ask(client, first[5], NEW)  # one comes back later, already updated: it counts
    rollouts.evaluate(rollout)
    assert rollout.phones.get(device=first[5]).state == Phone.UPDATED


def test_a_paused_rollout_opens_no_wave_until_resumed(client, rollout):
    rollouts.start(rollout)
    for phone in wave_of(rollout, 0):
        ask(client, phone, OLD)
        ask(client, phone, NEW)
    rollouts.pause(rollout)

    assert rollouts.evaluate(rollout).wave == 0

    rollouts.resume(rollout)
    assert rollouts.evaluate(rollout).wave == 1


def test_resuming_a_halted_rollout_opens_its_next_wave(client, rollout):
    rollouts.start(rollout)
    for phone in wave_of(rollout, 0):
        ask(client, phone, OLD)  # none back
    rollout = rollouts.evaluate(rollout, now=timezone.now() + timedelta(minutes=61))
    assert rollout.state == Rollout.State.HALTED

    rollouts.resume(rollout)

    rollout.refresh_from_db()
    assert (rollout.state, rollout.wave) == (Rollout.State.RUNNING, 1)
    assert rollout.phones.filter(wave=0, state=Phone.FAILED).count() == 2


def test_the_last_wave_back_completes_it(client, phones):
    rollout = Rollout.objects.create(name="all at once", image=make_image(NEW), waves="100")
    rollouts.start(rollout)
    for phone in phones:
        ask(client, phone, OLD)
        ask(client, phone, NEW)

    assert rollouts.evaluate(rollout).state == Rollout.State.COMPLETED
    assert ask(client, phones[0], OLD)  # still its target: a phone put back on OLD updates


def test_rolling_back_gives_the_phones_their_target_from_before(client, rollout, phones):
    old_image = make_image(OLD)
    FirmwareTarget.objects.create(model="T54W", image=old_image)  # what they ran before
    rollouts.start(rollout)
    updated = wave_of(rollout, 0)[0]
    ask(client, updated, OLD)
    ask(client, updated, NEW)

    rollouts.roll_back(rollout)

    url = updated.resource_url(f"firmware/{old_image.pk}/{OLD}.rom")
    assert ask(client, updated, NEW) == [f"static.firmware.url = {url}"]
    assert ask(client, updated, OLD) == []


def test_the_scope_leaves_out_pinned_and_holding_back_phones(db):
    image = make_image(NEW)
    free = make_organisation("free")
    pinned_org = make_organisation("pinned")
    holding = make_organisation("holding", firmware_hold_back=True, firmware_hold_back_allowed=True)
    not_allowed = make_organisation("not-allowed", firmware_hold_back=True)
    moved = make_device(free)
    pinned_phone = make_device(free)
    FirmwareTarget.objects.create(model="T54W", image=make_image(OLD), device=pinned_phone)
    FirmwareTarget.objects.create(model="T54W", image=image, organisation=pinned_org)
    make_device(pinned_org)
    make_device(holding)
    other_model = make_device(free, model="T46U")
    already = make_device(free, last_firmware=NEW)
    ignored = make_device(not_allowed)  # asked to hold back, but the provider does not allow it
    rollout = Rollout.objects.create(name="scope", image=image, waves="100")

    rollouts.start(rollout)

    chosen = set(rollout.phones.values_list("device", flat=True))
    assert chosen == {moved.pk, ignored.pk}
    assert other_model.pk not in chosen and already.pk not in chosen


def test_a_rollout_can_be_limited_to_organisations_and_a_share(db):
    image = make_image(NEW)
    inside, outside = make_organisation("inside"), make_organisation("outside")
    for _ in range(10):
        make_device(inside)
        make_device(outside)
    rollout = Rollout.objects.create(name="half of one", image=image, percentage=50, waves="100")
    rollout.organisations.add(inside)

    assert rollouts.start(rollout) == 5
    assert set(rollout.phones.values_list("device__organisation", flat=True)) == {inside.pk}


def test_nothing_in_scope_is_refused_with_a_reason(db):
    rollout = Rollout.objects.create(name="empty", image=make_image(NEW))

    with pytest.raises(rollouts.RolloutError, match="No phone is in this rollout's scope"):
        rollouts.start(rollout)
    rollout.refresh_from_db()
    assert rollout.state == Rollout.State.DRAFT


def test_a_phone_is_in_one_rollout_under_way_at_a_time(rollout, phones):
    rollouts.start(rollout)
    second = Rollout.objects.create(name="again", image=rollout.image)

    with pytest.raises(rollouts.RolloutError):
        rollouts.start(second)


def test_the_command_moves_rollouts_on_and_exits_1_while_one_is_halted(client, rollout):
    rollouts.start(rollout)
    for phone in wave_of(rollout, 0):
        ask(client, phone, OLD)
        ask(client, phone, NEW)
    out = StringIO()

    call_command("firmware_rollouts", stdout=out)

    assert "wave 2" in out.getvalue()
    Rollout.objects.filter(pk=rollout.pk).update(state=Rollout.State.HALTED, halt_reason="test")
    with pytest.raises(SystemExit) as exit_status:
        call_command("firmware_rollouts", stdout=out)
    assert exit_status.value.code == 1
    assert "1 halted" in out.getvalue()


@pytest.mark.parametrize(
    ("waves", "error"),
    [
        ("1, 10, 50", "The last wave must be 100"),
        ("10, 5, 100", "more phones than the one before"),
        ("ten, 100", "percentages separated by commas"),
        ("0, 100", "from 1 to 100"),
    ],
)
def test_wrong_waves_are_refused_with_what_to_fix(waves, error):
    from django.core.exceptions import ValidationError

    from firmware.models import parse_waves

    with pytest.raises(ValidationError, match=error):
        parse_waves(waves)


def test_a_wave_none_of_whose_phones_asked_halts_rather_than_spreading(client, rollout):
    rollouts.start(rollout)  # the first wave's phones stay switched off

    rollout = rollouts.evaluate(rollout, now=timezone.now() + timedelta(minutes=61))

    assert rollout.state == Rollout.State.HALTED
    assert "none of its phones asked" in rollout.halt_reason


def test_a_halted_rollout_offers_the_image_to_no_phone_that_has_not_fetched_it(client, rollout):
    rollouts.start(rollout)
    first = wave_of(rollout, 0)
    assert ask(client, first[0], OLD)  # fetched it, never came back
    rollout = rollouts.evaluate(rollout, now=timezone.now() + timedelta(minutes=61))
    assert rollout.state == Rollout.State.HALTED

    assert ask(client, first[1], OLD) == []  # had not asked yet: not sent the suspect image
    assert ask(client, first[0], OLD)  # still sent to the one retrying it

    rollouts.resume(rollout)
    assert rollouts.evaluate(rollout).wave == 1


def test_pausing_does_not_hide_the_phones_that_never_came_back(client, phones):
    rollout = Rollout.objects.create(
        name="paused", image=make_image(NEW), waves="50, 100", wave_minutes=60
    )
    rollouts.start(rollout)
    first = wave_of(rollout, 0)
    for phone in first[:5]:
        ask(client, phone, OLD)  # fetched it, then nothing: bricked
    for phone in first[5:]:
        ask(client, phone, OLD)
        ask(client, phone, NEW)
    rollouts.pause(rollout)
    rollouts.resume(rollout)  # the wave's time starts again, the offers stay what they were

    rollout = rollouts.evaluate(rollout, now=timezone.now() + timedelta(minutes=61))

    assert rollout.state == Rollout.State.HALTED
    assert "5 of the 10 phones" in rollout.halt_reason


def test_phones_that_leave_the_scope_are_not_waited_for(client, rollout, phones):
    rollouts.start(rollout)
    first = wave_of(rollout, 0)
    ask(client, first[0], OLD)
    ask(client, first[0], NEW)
    Device.objects.filter(pk=first[1].pk).update(is_active=False)  # taken off the desk

    rollout = rollouts.evaluate(rollout)

    assert rollout.wave == 1
    assert rollout.phones.get(device=first[1]).state == Phone.LEFT


def test_waves_never_repeat_a_size():
    rollout = Rollout(waves="11, 12, 100")

    assert rollout.wave_sizes(30) == [4, 5, 30]
    assert Rollout(waves="1, 10, 50, 100").wave_sizes(2) == [1, 2, 2, 2]


def test_a_later_rollout_moves_on_the_phones_of_a_completed_one(client, phones):
    done = Rollout.objects.create(name="done", image=make_image(NEW), waves="100")
    rollouts.start(done)
    for phone in phones:
        ask(client, phone, OLD)
        ask(client, phone, NEW)
    assert rollouts.evaluate(done).state == Rollout.State.COMPLETED
    newer = make_image("96.86.0.140")
    later = Rollout.objects.create(name="later", image=newer, waves="100")

    assert rollouts.start(later) == 20

    assert set(done.phones.values_list("state", flat=True)) == {Phone.LEFT}
    url = phones[0].resource_url(f"firmware/{newer.pk}/96.86.0.140.rom")
    assert ask(client, phones[0], NEW) == [f"static.firmware.url = {url}"]


def test_a_halt_is_printed_once_and_the_exit_status_stays_1(client, rollout):
    rollouts.start(rollout)
    Rollout.objects.filter(pk=rollout.pk).update(
        wave_opened_at=timezone.now() - timedelta(minutes=61)
    )
    RolloutPhone.objects.filter(rollout=rollout).update(
        offered_at=timezone.now() - timedelta(minutes=61)
    )
    first, second = StringIO(), StringIO()

    with pytest.raises(SystemExit):
        call_command("firmware_rollouts", "--quiet", stdout=StringIO(), stderr=first)
    with pytest.raises(SystemExit) as again:
        call_command("firmware_rollouts", "--quiet", stdout=StringIO(), stderr=second)

    assert "halted" in first.getvalue()
    assert second.getvalue() == "" and again.value.code == 1
