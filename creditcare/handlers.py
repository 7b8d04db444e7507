"""The HIS API (``/api/``) is served through a shorter middleware stack than the site, and
its hottest request (a charge) is answered before any middleware when it can be."""

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.middleware.security import SecurityMiddleware
from django.test.utils import override_settings
from django.urls import Resolver404, resolve

API_PREFIX = "/api/"


class ApiMiddleware:
    """Mixed into a Django handler: its middleware is ``settings.API_MIDDLEWARE``, and a POST
    whose view can answer at once (it has an ``answer_at_once``) is answered that way first.

    The API answers machines with keys: it has no sessions, staff sign-in, CSRF (DRF's
    views are exempt), messages or page history, and on the charges path those middleware
    cost as much as the charge's own Python.
    """

    def load_middleware(self, is_async: bool = False) -> None:
        # Django's loader reads settings.MIDDLEWARE. Load once, before serving: the override
        # is process-wide while it lasts.
        with override_settings(MIDDLEWARE=settings.API_MIDDLEWARE):
            super().load_middleware(is_async)
        self.security = SecurityMiddleware(self._get_response)

    def get_response(self, request: HttpRequest) -> HttpResponse:
        response = self.answer_at_once(request)
        return super().get_response(request) if response is None else response

    def answer_at_once(self, request: HttpRequest) -> HttpResponse | None:
        """The view's ``answer_at_once(request, **kwargs)``, if it has one and answers: an
        answer that needs nothing of the middleware but their headers. The middleware's
        Python costs a charge a quarter of its time; ``None`` (the view's own path, through
        them all) for any request it leaves, having written nothing."""
        if request.method != "POST":
            return None
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return None
        answer = getattr(match.func, "answer_at_once", None)
        response = answer and answer(request, *match.args, **match.kwargs)
        if response is None:
            return None
        # What the middleware would add: the security headers and (CommonMiddleware) the
        # length. No Content-Language (LocaleMiddleware): such an answer has no words.
        self.security.process_response(request, response)
        response.headers["Content-Length"] = str(len(response.content))
        response._resource_closers.append(request.close)  # as BaseHandler.get_response does
        return response


class ApiHandler(ApiMiddleware, WSGIHandler):
    pass


class SiteAndApi:
    """The WSGI application: ``/api/`` to the API's handler, the rest to Django's."""

    def __init__(self) -> None:
        self.site, self.api = WSGIHandler(), ApiHandler()

    def __call__(self, environ, start_response):
        handler = self.api if environ.get("PATH_INFO", "").startswith(API_PREFIX) else self.site
        return handler(environ, start_response)
