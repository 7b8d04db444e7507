"""Real-name checks (实名认证): whether a name and an identity number belong to one living
person, as the national service answers it (in production usually with face recognition on
the phone as well). One interface, as the credit score provider has: ``verify`` answers
``MATCH``, ``NO_MATCH`` or ``UNAVAILABLE`` (the service could not be asked: try later).

A real service is one more class, named in ``PROVIDERS`` and chosen by
``REALNAME_PROVIDER``; none configured, no real-name check is made.

The sandbox (development and tests, only where the sandbox is on) answers from the number:
a sequence of ``999`` (the three digits before the check character) does not match, and
``SANDBOX_REALNAME_UNAVAILABLE`` makes it unreachable.
"""

from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from creditcare.errors import DomainError


class RealNameAnswer(models.TextChoices):
    MATCH = "match", pgettext_lazy("real-name check", "Match")
    NO_MATCH = "no_match", pgettext_lazy("real-name check", "No match")
    UNAVAILABLE = "unavailable", pgettext_lazy("real-name check", "Service unavailable")


MATCH, NO_MATCH, UNAVAILABLE = RealNameAnswer.values

PROVIDERS = {"sandbox": "accounts.realname.SandboxRealName"}


class RealNameProvider(Protocol):
    def verify(self, *, name: str, id_number: str) -> str: ...


class SandboxRealName:
    def verify(self, *, name: str, id_number: str) -> str:
        if settings.SANDBOX_REALNAME_UNAVAILABLE:
            return UNAVAILABLE
        return NO_MATCH if id_number[-4:-1] == "999" else MATCH


def realname_provider() -> RealNameProvider | None:
    """The configured service, or ``None``."""
    name = settings.REALNAME_PROVIDER
    if not name:
        return None
    if name not in PROVIDERS or (name == "sandbox" and not settings.SANDBOX_ENABLED):
        raise ImproperlyConfigured(f"REALNAME_PROVIDER names no real-name service here: {name!r}")
    return import_string(PROVIDERS[name])()


def unavailable_error() -> DomainError:
    """What the person is told when the service cannot be asked: try again later."""
    return DomainError(
        "realname_unavailable",
        _("The real-name check cannot be made just now. Please try again in a few minutes."),
    )
