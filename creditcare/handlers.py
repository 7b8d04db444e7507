"""The HIS API (``/api/``) is served through a shorter middleware stack than the site, and
its hottest request (a charge) is answered before the last of those middleware."""

import threading

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.test.utils import override_settings
from django.urls import Resolver404, resolve

API_PREFIX = "/api/"

# override_settings swaps the settings of the whole process and puts back what it found:
# two overrides interleaved by threads would put back the other's, and the site would keep
# the API's middleware. One at a time, then.
_loading_api_middleware = threading.Lock()


class ApiMiddleware:
    """Mixed into a Django handler: its middleware is ``settings.API_MIDDLEWARE``.

    The API answers machines with keys: it has no sessions, staff sign-in, CSRF (DRF's
    views are exempt), messages or page history, and on the charges path those middleware
    cost as much as the charge's own Python.
    """

    def load_middleware(self, is_async: bool = False) -> None:
        # Django's loader reads settings.MIDDLEWARE. Load once, before serving: the override
        # is process-wide while it lasts.
        with _loading_api_middleware, override_settings(MIDDLEWARE=settings.API_MIDDLEWARE):
            super().load_middleware(is_async)


class AnswerAtOnceMiddleware:
    """A POST whose view has an ``answer_at_once(request, **kwargs)`` is answered by it if
    it can, without the middleware after this one or the view's own dispatch (DRF's); the
    middleware before this one check the request and add their headers as for any answer.

    ``answer_at_once`` returns ``None``, having written nothing, for a request it leaves to
    the view. In the API's stack only the locale middleware comes after (it cost the charges
    request a tenth of its time), so such an answer must have no words: the request's
    language is not activated.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            try:
                match = resolve(request.path_info)
            except Resolver404:
                pass
            else:
                answer = getattr(match.func, "answer_at_once", None)
                response = answer and answer(request, *match.args, **match.kwargs)
                if response is not None:
                    return response
        return self.get_response(request)


class ApiHandler(ApiMiddleware, WSGIHandler):
    pass


class SiteAndApi:
    """The WSGI application: ``/api/`` to the API's handler, the rest to Django's."""

    def __init__(self) -> None:
        self.site, self.api = WSGIHandler(), ApiHandler()

    def __call__(self, environ, start_response):
        handler = self.api if environ.get("PATH_INFO", "").startswith(API_PREFIX) else self.site
        return handler(environ, start_response)
