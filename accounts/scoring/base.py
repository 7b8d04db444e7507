from typing import Protocol

from accounts.policy import SCORE_MAX, SCORE_MIN


class ScoreProviderError(Exception):
    """The provider could not give a score (down, timed out, nonsense answer)."""


class ScoreProvider(Protocol):
    name: str

    def fetch(self, patient) -> int | None:
        """The patient's current score, ``None`` if the provider has none for them.

        Raises ``ScoreProviderError`` when the provider fails.
        """


def checked_score(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not SCORE_MIN <= value <= SCORE_MAX:
        raise ScoreProviderError(f"score {value!r} is not an integer in {SCORE_MIN}-{SCORE_MAX}")
    return value
