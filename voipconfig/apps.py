from django.apps import AppConfig


class VoipconfigConfig(AppConfig):
    """The project package is an app to carry project-wide commands (loaddemo) and checks."""

    name = "voipconfig"
    verbose_name = "voipconfig"

    def ready(self) -> None:
        from voipconfig import checks  # noqa: F401 - registers the deployment checks
