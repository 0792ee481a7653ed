from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VoipconfigConfig(AppConfig):
    """The project package is an app to carry project-wide commands (loaddemo) and checks."""

    name = "voipconfig"
    verbose_name = _("voipconfig")

    def ready(self) -> None:
        from axes.models import AccessAttempt

        from organisations.scoping import register_scoped_model
        from voipconfig import checks  # noqa: F401 - registers the deployment checks

        register_scoped_model(AccessAttempt, None)  # admin login lockouts: the provider's
