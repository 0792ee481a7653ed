from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Phones"

    def ready(self) -> None:
        from devices.models import AccessLog, Device, SipAccount
        from organisations.scoping import register_scoped_model

        register_scoped_model(Device, "organisation")
        register_scoped_model(SipAccount, "device__organisation")
        register_scoped_model(AccessLog, "organisation", staff_actions=["view"])
