"""WSGI entry point (gunicorn eventtracker.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eventtracker.settings")
application = get_wsgi_application()

from core.checks import serve_checked  # noqa: E402 - once Django is set up

serve_checked()
