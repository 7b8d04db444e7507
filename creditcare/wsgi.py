"""WSGI entry point: ``gunicorn -c creditcare/gunicorn.conf.py`` serves ``application``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditcare.settings")

application = get_wsgi_application()
