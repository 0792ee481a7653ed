from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    """The REST API under /api/v1/ for the provider's other systems (billing, PBX). It sits
    on top, like `voipconfig`: it may import every app; no app imports it."""

    name = "api"
    verbose_name = _("REST API")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from api import schema  # noqa: F401 - registers the Bearer scheme with drf-spectacular
        from api.models import ApiToken
        from organisations.scoping import register_scoped_model

        # Organisation staff see, create and revoke their organisation's tokens; provider
        # tokens (no organisation) only the provider sees.
        register_scoped_model(ApiToken, "organisation", staff_actions=["view", "add", "change"])
