"""The one application error type. Services raise it; the API and the admin show it."""

from typing import Any


class DomainError(Exception):
    """A business rule refused the operation.

    ``code`` is stable (integrators and tests match on it); ``message`` is for a person.
    """

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def __str__(self) -> str:
        return str(self.message)
