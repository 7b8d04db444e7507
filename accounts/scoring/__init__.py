"""Credit score providers behind one interface.

``fetch_score(patient)`` never raises and never blocks a signing for long: a provider that
fails or times out is logged and the policy falls back to base limits (score ``None``).
The provider is chosen by the ``CREDIT_SCORE_PROVIDER`` setting: ``none``, ``csv``, ``http``.
"""

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from accounts.scoring.base import ScoreProvider, ScoreProviderError
from accounts.scoring.csv import CsvScoreProvider
from accounts.scoring.http import HttpScoreProvider
from accounts.scoring.none import NoScoreProvider

logger = logging.getLogger(__name__)

PROVIDERS: dict[str, type[ScoreProvider]] = {
    "none": NoScoreProvider,
    "csv": CsvScoreProvider,
    "http": HttpScoreProvider,
}


def get_provider() -> ScoreProvider:
    try:
        return PROVIDERS[settings.CREDIT_SCORE_PROVIDER]()
    except KeyError:
        raise ImproperlyConfigured(
            f"CREDIT_SCORE_PROVIDER must be one of {', '.join(PROVIDERS)}, "
            f"not {settings.CREDIT_SCORE_PROVIDER!r}"
        ) from None


def fetch_score(patient) -> tuple[int | None, str]:
    """``(score, provider name)``; ``(None, name)`` when there is none or the provider failed."""
    try:
        provider = get_provider()
    except ImproperlyConfigured as error:
        # A configuration mistake must not close the windows: sign with base limits, loudly.
        logger.error("credit score provider misconfigured, base limits apply: %s", error)
        return None, settings.CREDIT_SCORE_PROVIDER
    try:
        return provider.fetch(patient), provider.name
    except ScoreProviderError as error:
        logger.warning(
            "credit score provider %s failed for card %s, base limits apply: %s",
            provider.name,
            patient.citizen_card,
            error,
        )
        return None, provider.name


__all__ = ["ScoreProvider", "ScoreProviderError", "fetch_score", "get_provider"]
