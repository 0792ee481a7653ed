"""Phones that sent their organisation's valid credentials but are not among its phones.

They get 404, never 401 (a Yealink phone answered 401 to credentials stops and prompts for a
password on its screen), and their MAC goes on the organisation's list of unassigned phones,
with what the phone said about itself, for staff to add in one click. An organisation that
chose to enrol such phones gets them added at once instead.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from devices.models import Device, UnassignedPhone
from devices.phone_models import get_model
from devices.serving.request import PhoneRequest
from organisations.models import Organisation

logger = logging.getLogger(__name__)
ENROLLED_LABEL = "Enrolled automatically"


def seen(
    organisation: Organisation, phone: PhoneRequest, ip: str | None, *, may_enrol: bool = True
) -> bool:
    """Note the phone's request; True when it was enrolled as the organisation's phone.

    A MAC another organisation has is listed as any other (may_enrol=False), so the list
    tells no one which MACs are taken; adding it gets the answer staff get for such a MAC."""
    assert phone.mac is not None
    agent = phone.user_agent
    model = get_model(agent.model)
    if may_enrol and organisation.enrol_unknown_phones and model is not None:
        return _enrol(organisation, phone.mac, model.name)
    now = timezone.now()
    fields = {
        "model": agent.model[:32],
        "firmware": agent.firmware[:32],
        "user_agent": agent.raw[:255],
        "ip": ip,
        "last_seen_at": now,
    }
    listed = UnassignedPhone.objects.filter(organisation=organisation, mac=phone.mac)
    if listed.update(requests=F("requests") + 1, **fields):
        return False
    if UnassignedPhone.objects.filter(organisation=organisation).count() >= (
        settings.UNASSIGNED_PHONES_MAX
    ):
        logger.warning(
            "%s has %d unassigned phones listed already: %s not listed",
            organisation.slug,
            settings.UNASSIGNED_PHONES_MAX,
            phone.mac,
        )
        return False
    try:
        with transaction.atomic():
            UnassignedPhone.objects.create(
                organisation=organisation, mac=phone.mac, first_seen_at=now, **fields
            )
    except IntegrityError:  # another process listed it a moment ago
        listed.update(requests=F("requests") + 1, **fields)
    return False


def _enrol(organisation: Organisation, mac: str, model: str) -> bool:
    try:
        with transaction.atomic():
            Device.objects.create(
                organisation=organisation, mac=mac, model=model, label=ENROLLED_LABEL
            )
    except IntegrityError:  # another process enrolled it a moment ago
        pass
    logger.info("%s: enrolled %s (%s) automatically", organisation.slug, mac, model)
    return True
