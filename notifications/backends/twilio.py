"""Twilio Messages API through the twilio library.

Settings: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, and TWILIO_FROM or
TWILIO_MESSAGING_SERVICE_SID; TWILIO_TIMEOUT; TWILIO_API_BASE_URL only to point the client
at a stand-in (tests, staging).
"""

import datetime as dt

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from notifications.backends import PermanentSmsError, Sent, TransientSmsError, UncertainSmsError

TWILIO_API = "https://api.twilio.com"


class _HttpClient(TwilioHttpClient):
    """The twilio library's own HTTP client, sent to TWILIO_API_BASE_URL when that is set."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if self.base_url and url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


class TwilioBackend:
    def __init__(self) -> None:
        if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
            raise ImproperlyConfigured("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are needed")
        if not (settings.TWILIO_FROM or settings.TWILIO_MESSAGING_SERVICE_SID):
            raise ImproperlyConfigured("TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID is needed")
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=_HttpClient(
                settings.TWILIO_API_BASE_URL, timeout=settings.TWILIO_TIMEOUT, max_retries=0
            ),
        )

    def send(self, *, to: str, body: str, reference: str) -> Sent:
        sender = (
            {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
            if settings.TWILIO_MESSAGING_SERVICE_SID
            else {"from_": settings.TWILIO_FROM}
        )
        callback = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("twilio-status")
        try:
            message = self.client.messages.create(
                to=to, body=body, status_callback=callback, **sender
            )
        except TwilioRestException as error:
            if error.status == 429 or error.status >= 500:
                raise TransientSmsError(f"Twilio {error.status}: {error.msg}") from error
            raise PermanentSmsError(f"Twilio {error.status} ({error.code}): {error.msg}") from error
        except requests.ConnectionError as error:  # never reached Twilio (ConnectTimeout too)
            raise TransientSmsError(f"Twilio unreachable: {error}") from error
        except requests.Timeout as error:  # reached it, no answer: it may have sent
            raise UncertainSmsError(f"Twilio did not answer: {error}") from error
        return Sent(provider_message_id=message.sid)

    def find_sent(self, *, to: str, body: str, since: dt.datetime) -> Sent | None:
        earliest = since - dt.timedelta(minutes=1)  # clocks differ a little
        try:
            messages = self.client.messages.list(to=to, date_sent_after=earliest, limit=50)
        except (TwilioRestException, requests.RequestException) as error:
            raise TransientSmsError(f"Twilio lookup failed: {error}") from error
        for message in messages:
            sent_at = message.date_sent or message.date_created
            if message.body == body and (sent_at is None or sent_at >= earliest):
                return Sent(provider_message_id=message.sid)
        return None
