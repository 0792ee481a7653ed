from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FirmwareConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "firmware"
    verbose_name = _("Firmware")

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from devices.config import register_firmware_contributor
        from firmware.models import FirmwareImage, FirmwareTarget, Rollout, remove_stored_file
        from firmware.targets import target_keys
        from organisations.scoping import register_scoped_model

        register_firmware_contributor(target_keys)
        # The provider's: images and targets are set for every organisation.
        register_scoped_model(FirmwareImage, None)
        register_scoped_model(FirmwareTarget, None)
        register_scoped_model(Rollout, None)
        post_delete.connect(remove_stored_file, sender=FirmwareImage, dispatch_uid="firmware-file")
