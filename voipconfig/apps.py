from django.apps import AppConfig


class VoipconfigConfig(AppConfig):
    """The project package is an app only to carry project-wide commands (loaddemo)."""

    name = "voipconfig"
    verbose_name = "voipconfig"
