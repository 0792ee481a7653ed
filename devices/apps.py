from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = _("Phones")

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from devices.models import (
            AccessLog,
            Device,
            ForeignMacAttempt,
            Handset,
            KeyProfile,
            LineKey,
            ProfileKey,
            SipAccount,
            UnassignedPhone,
            remember_deleted_device,
        )
        from devices.serving.cache import connect_config_sources
        from organisations.scoping import register_scoped_model

        connect_config_sources()  # of every app: devices.serving.keys lists them
        post_delete.connect(remember_deleted_device, sender=Device, dispatch_uid="former-device")
        register_scoped_model(Device, "organisation")
        register_scoped_model(SipAccount, "device__organisation")
        register_scoped_model(AccessLog, "organisation", staff_actions=["view"])
        register_scoped_model(KeyProfile, "organisation")
        register_scoped_model(ProfileKey, "profile__organisation")
        register_scoped_model(LineKey, "device__organisation")
        register_scoped_model(Handset, "device__organisation")
        # Staff look and dismiss; phones put themselves there.
        register_scoped_model(UnassignedPhone, "organisation", staff_actions=["view", "delete"])
        register_scoped_model(ForeignMacAttempt, None)  # the provider's
