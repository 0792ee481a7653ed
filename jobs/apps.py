from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = _("Jobs")

    def ready(self) -> None:
        from jobs.models import Job
        from organisations.scoping import register_scoped_model

        # Staff follow their own organisation's jobs; a job over several organisations (the
        # provider's) has none and is the provider's.
        register_scoped_model(Job, "organisation", staff_actions=["view"])
