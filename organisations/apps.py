from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class OrganisationsConfig(AppConfig):
    name = "organisations"
    verbose_name = _("Organisations")

    def ready(self) -> None:
        from organisations.models import Organisation, OrganisationStaff, SettingsProfile
        from organisations.scoping import register_scoped_model

        register_scoped_model(Organisation, "", staff_actions=["view"])
        register_scoped_model(OrganisationStaff, "organisation", staff_actions=[])
        register_scoped_model(SettingsProfile, None)  # the provider's
        post_migrate.connect(_sync_groups, dispatch_uid="organisations.sync_groups")


def _sync_groups(sender: AppConfig, **kwargs: object) -> None:
    # After every migrate (and test flush), once the last app's permissions exist.
    if sender is not list(apps.get_app_configs())[-1]:
        return
    from organisations.scoping import sync_groups

    sync_groups()
