"""Texts the system records (reasons, notes): written in the site's language
(``LANGUAGE_CODE``), whoever's request caused them, so a record reads the same to everyone
who opens it later."""

from django.conf import settings
from django.utils import translation


def site_language() -> translation.override:
    return translation.override(settings.LANGUAGE_CODE)
