"""Demo RPS state (used by `manage.py loaddemo`): every demo phone is pending, honestly.

Nothing is sent to RPS here; the rows say what the admin shows before the first
`manage.py rps_sync`. A real sync treats them as never pushed.
"""

from __future__ import annotations

from devices.models import Device
from rps import wording
from rps.models import RpsDeviceState

HOW_TO_SYNC = "Set RPS_ACCESS_KEY_ID and RPS_ACCESS_KEY_SECRET, then run manage.py rps_sync."


def create_demo_data() -> int:
    """Create what is missing; return how many objects were created."""
    created = 0
    for device in Device.objects.filter(rps_state__isnull=True).select_related("organisation"):
        _, made = RpsDeviceState.objects.get_or_create(
            mac=device.mac,
            defaults={
                "device": device,
                "organisation": device.organisation,
                "status": RpsDeviceState.Status.PENDING,
                "last_error": wording.NOT_SYNCED,
                "last_error_detail": HOW_TO_SYNC,
            },
        )
        created += made
    return created
