"""Settings for benchmark servers: production settings plus one trivial view to measure the
ceiling of this stack (gunicorn + Django + middleware) on this machine, in the same run."""

from voipconfig.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
