from django.apps import AppConfig


class FirmwareConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "firmware"
    verbose_name = "Firmware"

    def ready(self) -> None:
        from devices.config import register_firmware_contributor
        from firmware.targets import firmware_keys

        register_firmware_contributor(firmware_keys)
