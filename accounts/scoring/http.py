import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from accounts.scoring.base import ScoreProviderError, checked_score


class HttpScoreProvider:
    """A scoring service over HTTP.

    ``POST CREDIT_SCORE_HTTP_URL`` with ``{"citizen_card", "id_type", "id_number", "name"}``
    and ``Authorization: Bearer CREDIT_SCORE_HTTP_API_KEY``; it answers 200
    ``{"score": 712}``, or 404 when it does not know the person. The identity travels in
    the body, never in a URL that could end up in a log.
    """

    name = "http"

    def __init__(self) -> None:
        if not settings.CREDIT_SCORE_HTTP_URL:
            raise ImproperlyConfigured("CREDIT_SCORE_HTTP_URL is needed for the http provider")
        self.url = settings.CREDIT_SCORE_HTTP_URL
        self.timeout = settings.CREDIT_SCORE_HTTP_TIMEOUT
        self.api_key = settings.CREDIT_SCORE_HTTP_API_KEY

    def fetch(self, patient) -> int | None:
        try:
            response = requests.post(
                self.url,
                json={
                    "citizen_card": patient.citizen_card,
                    "id_type": patient.id_type,
                    "id_number": patient.id_number,
                    "name": patient.name,
                },
                headers={"Authorization": f"Bearer {self.api_key}"},
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise ScoreProviderError(f"request failed: {error}") from error
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ScoreProviderError(f"HTTP {response.status_code}")
        try:
            return checked_score(response.json().get("score"))
        except (ValueError, AttributeError) as error:
            raise ScoreProviderError(f"unreadable answer: {error}") from error
