"""WSGI entry point (gunicorn voipconfig.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voipconfig.settings")

application = get_wsgi_application()
