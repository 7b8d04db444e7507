"""WSGI entry point: ``gunicorn -c creditcare/gunicorn.conf.py`` serves ``application``."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditcare.settings")
django.setup(set_prefix=False)  # as get_wsgi_application() does

from creditcare.handlers import SiteAndApi  # noqa: E402 - needs the apps loaded

application = SiteAndApi()
