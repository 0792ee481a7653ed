from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class RpsConfig(AppConfig):
    name = "rps"
    verbose_name = _("Yealink RPS")

    def ready(self) -> None:
        from organisations.scoping import register_scoped_model
        from rps.models import RpsDeviceState, RpsServerState

        checks.register(check_server_name_prefix)
        # The servers are the provider's business; staff see their own phones' RPS state.
        register_scoped_model(RpsServerState, None)
        register_scoped_model(RpsDeviceState, "device__organisation", staff_actions=["view"])


def check_server_name_prefix(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """A bad prefix would only show at the first sync; `manage.py check` tells at once."""
    from django.core.exceptions import ImproperlyConfigured

    from rps.desired import server_name_prefix

    try:
        server_name_prefix()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="rps.E001")]
    return []
