from django.apps import AppConfig


class MediaAssetsConfig(AppConfig):
    name = "media_assets"
    verbose_name = "Media"

    def ready(self) -> None:
        from devices.config import register_device_contributor
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
        # Global files (no organisation) are shared: staff see them, only providers edit them.
        # SoftkeyFile and CaCertificate are global only: the provider's.
        register_scoped_model(SoftkeyFile, None)
        register_scoped_model(CaCertificate, None)
        register_scoped_model(Wallpaper, "organisation", shared=True)
        register_scoped_model(Ringtone, "organisation", shared=True)
        # Chosen on the organisation's page, which staff may only view.
        register_scoped_model(OrganisationMedia, "organisation", staff_actions=["view"])
        register_scoped_model(DeviceMedia, "device__organisation")
