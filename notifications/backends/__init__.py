"""SMS backends, chosen by the SMS_BACKEND setting: console (make run), locmem (tests), twilio."""

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


class SmsError(Exception):
    """The provider did not take the message."""


class TransientSmsError(SmsError):
    """Worth retrying: the provider was down or busy, and certainly did not send it."""


class PermanentSmsError(SmsError):
    """Retrying cannot help (a bad number, a blocked account)."""


class UncertainSmsError(SmsError):
    """The call may or may not have reached the provider (a read timeout): the message stays
    ``sending`` and the stuck-message sweep asks the provider before any resend."""


@dataclass(frozen=True)
class Sent:
    provider_message_id: str


class SmsBackend(Protocol):
    def send(self, *, to: str, body: str, reference: str) -> Sent: ...

    def find_sent(self, *, to: str, body: str, since) -> Sent | None:
        """The provider's record of this message if it was sent after ``since``."""


BACKENDS = {
    "console": "notifications.backends.console.ConsoleBackend",
    "locmem": "notifications.backends.locmem.LocmemBackend",
    "twilio": "notifications.backends.twilio.TwilioBackend",
}


def get_backend() -> SmsBackend:
    try:
        return import_string(BACKENDS[settings.SMS_BACKEND])()
    except KeyError:
        raise ImproperlyConfigured(
            f"SMS_BACKEND must be one of {', '.join(BACKENDS)}, not {settings.SMS_BACKEND!r}"
        ) from None
