from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MediaAssetsConfig(AppConfig):
    name = "media_assets"
    verbose_name = _("Media")

    def ready(self) -> None:
        from devices.config import register_device_contributor
        from devices.models import device_moved
        from media_assets.config import media_config
        from media_assets.models import (
            CaCertificate,
            DeviceMedia,
            OrganisationMedia,
            Ringtone,
            SoftkeyFile,
            Wallpaper,
        )
        from organisations.scoping import register_scoped_model

        register_device_contributor(media_config)
        device_moved.connect(_forget_former_media, dispatch_uid="media_assets.device_moved")
        # Global files (no organisation) are shared: staff see them, only providers edit them.
        # SoftkeyFile and CaCertificate are global only: the provider's.
        register_scoped_model(SoftkeyFile, None)
        register_scoped_model(CaCertificate, None)
        register_scoped_model(Wallpaper, "organisation", shared=True)
        register_scoped_model(Ringtone, "organisation", shared=True)
        # Chosen on the organisation's page, which staff may only view.
        register_scoped_model(OrganisationMedia, "organisation", staff_actions=["view"])
        register_scoped_model(DeviceMedia, "device__organisation")


def _forget_former_media(device: Any, former_organisation_id: int, **_: Any) -> None:
    """A phone moved to another organisation keeps no wallpaper or ringtone of its former
    one (shared files stay chosen)."""
    from media_assets.models import DeviceMedia

    media = DeviceMedia.objects.filter(device=device).first()
    if media is None:
        return
    changed = []
    for name in ("wallpaper", "ringtone"):
        chosen = getattr(media, name)
        if chosen is not None and chosen.organisation_id not in (None, device.organisation_id):
            setattr(media, name, None)
            changed.append(name)
    if changed:
        media.save(update_fields=changed)
