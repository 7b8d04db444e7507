"""The HIS API (``/api/``) is served through a shorter middleware stack than the site."""

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.test.utils import override_settings

API_PREFIX = "/api/"


class ApiMiddleware:
    """Mixed into a Django handler: its middleware is ``settings.API_MIDDLEWARE``.

    The API answers machines with keys: it has no sessions, staff sign-in, CSRF (DRF's
    views are exempt), messages or page history, and on the charges path those middleware
    cost as much as the charge's own Python.
    """

    def load_middleware(self, is_async: bool = False) -> None:
        # Django's loader reads settings.MIDDLEWARE. Load once, before serving: the override
        # is process-wide while it lasts.
        with override_settings(MIDDLEWARE=settings.API_MIDDLEWARE):
            super().load_middleware(is_async)


class ApiHandler(ApiMiddleware, WSGIHandler):
    pass


class SiteAndApi:
    """The WSGI application: ``/api/`` to the API's handler, the rest to Django's."""

    def __init__(self) -> None:
        self.site, self.api = WSGIHandler(), ApiHandler()

    def __call__(self, environ, start_response):
        handler = self.api if environ.get("PATH_INFO", "").startswith(API_PREFIX) else self.site
        return handler(environ, start_response)
