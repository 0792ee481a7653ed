from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Phones"

    def ready(self) -> None:
        from devices.config_cache import register_config_source
        from devices.models import AccessLog, Device, SipAccount
        from organisations.models import Organisation
        from organisations.scoping import register_scoped_model

        for model in (Organisation, Device, SipAccount):
            register_config_source(model)

        register_scoped_model(Device, "organisation")
        register_scoped_model(SipAccount, "device__organisation")
        register_scoped_model(AccessLog, "organisation", staff_actions=["view"])
