"""How a webhook is signed, and how its receiver checks it (docs/his-api.md shows the same
check in a few lines): as Stripe signs, an HMAC-SHA256 of ``<timestamp>.<body>`` under the
endpoint's secret, sent as ``CreditCare-Signature: t=<timestamp>,v1=<hex>``. The timestamp
is signed too, so a receiver refuses an old message replayed (``tolerance``)."""

import hashlib
import hmac
import time

HEADER = "CreditCare-Signature"
TOLERANCE_SECONDS = 300


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The header's value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def signature_valid(*, secret: str, header: str, body: bytes, now: float | None = None) -> bool:
    """Whether ``header`` signs ``body`` under ``secret``, made at most TOLERANCE_SECONDS
    ago: what a receiver checks before it trusts a message."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(_mac(secret, timestamp, body), parts.get("v1", ""))
