"""Settings of the HIS API's own process (DJANGO_SETTINGS_MODULE=creditcare.settings_api).

The API answers machines with keys: it has no sessions, staff sign-in, CSRF (DRF's views
are exempt), messages or page history, and on a charge those middleware cost a good part of
the request's own Python. So production runs the API as its own gunicorn process with this
module (the same code, a shorter middleware stack and the API's URLs alone) behind the one
proxy that sends `/api/` here and everything else to the site (docs/deployment.md). The
site's URLconf serves the API too, with the site's middleware, for a one-process setup.
"""

from csp.constants import NONE

from creditcare.settings import *  # noqa: F403

ROOT_URLCONF = "creditcare.urls_api"
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # messages in the caller's language
]
# JSON loads nothing and is framed by nobody (the docs page has its own policy).
CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": [NONE], "frame-ancestors": [NONE]}}
# The admin's checks of the site's middleware: this process serves no admin page.
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410"]
