"""Exactly-once POSTs: the first answer to an ``Idempotency-Key`` is kept and replayed.

1. ``idempotency_begin`` claims the key in the request's own transaction, before its effects.
2. The request runs; ``idempotency_finish`` stores the answer in that same transaction, so
   the effects, the key and the answer commit together (or, on a fault of ours, none of them:
   a retry then runs afresh).
3. A retry with the same key and body gets the stored answer; with another body, 422.

A retry while the first attempt is still running gets 409: the claim takes a
transaction-level advisory lock on the key, which the running attempt holds until it ends
(nothing has to be committed first, which would cost the request a second commit).

A record found without an answer was committed by an attempt that died in between (older
code committed the claim first); after ``IDEMPOTENCY_IN_FLIGHT_SECONDS`` a retry takes it
over (compare-and-swap on ``started_at``), and the natural keys (``his_visit_id``,
``his_line_id``) make the rerun a no-op if the first run had committed its effects.
"""

import datetime as dt
import enum
import hashlib
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import Institution
from billing.models import IdempotencyRecord

IDEMPOTENCY_KEY_MAX_LENGTH = 255
# A key is 1 to 255 printable ASCII characters, not beginning or ending with a space (HTTP
# drops the whitespace around a header's value, so such a key would not arrive as sent).
# The API checks keys with this, and its OpenAPI schema publishes it.
IDEMPOTENCY_KEY_PATTERN = rf"^[!-~](?:[ -~]{{0,{IDEMPOTENCY_KEY_MAX_LENGTH - 2}}}[!-~])?$"


def idempotency_key_valid(key: str) -> bool:
    return re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key) is not None


class Outcome(enum.Enum):
    PROCEED = "proceed"  # first time (or a dead attempt taken over): run the request
    REPLAY = "replay"  # answered before: send the stored answer
    REUSED = "reused"  # the key was used for another request
    IN_FLIGHT = "in_flight"  # the first attempt is still running


@dataclass(frozen=True)
class Begun:
    outcome: Outcome
    record: IdempotencyRecord | None  # None: another attempt holds the key now


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()


# One statement: the advisory lock on the key, and the record inserted if the lock was free
# and the key is new. ``free`` false: another attempt is running; no ``id``: the key is kept.
CLAIM = f"""
WITH claim AS (SELECT pg_try_advisory_xact_lock(hashtextextended(%(lock)s, 0)) AS free),
inserted AS (
    INSERT INTO {IdempotencyRecord._meta.db_table}
        (institution_id, key, request_hash, started_at, created_at)
    SELECT %(institution)s, %(key)s, %(fingerprint)s, %(now)s, %(now)s FROM claim WHERE free
    ON CONFLICT (institution_id, key) DO NOTHING
    RETURNING id
)
SELECT free, (SELECT id FROM inserted) FROM claim
"""


def idempotency_begin(*, institution: Institution, key: str, fingerprint: str) -> Begun:
    """Claim ``key`` for this request. Call inside the request's ``transaction.atomic``."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            CLAIM,
            {
                "lock": f"{institution.pk}:{key}",
                "institution": institution.pk,
                "key": key,
                "fingerprint": fingerprint,
                "now": now,
            },
        )
        free, record_id = cursor.fetchone()
    if not free:
        return Begun(Outcome.IN_FLIGHT, None)
    if record_id is not None:
        record = IdempotencyRecord(
            pk=record_id,
            institution=institution,
            key=key,
            request_hash=fingerprint,
            started_at=now,
            created_at=now,
        )
        return Begun(Outcome.PROCEED, record)
    record = IdempotencyRecord.objects.get(institution=institution, key=key)
    outcome = idempotency_judge(record=record, fingerprint=fingerprint, now=now)
    if outcome is None:
        taken = IdempotencyRecord.objects.filter(
            pk=record.pk, response_status=None, started_at=record.started_at
        ).update(started_at=now)
        if taken:
            record.started_at = now
            return Begun(Outcome.PROCEED, record)
        outcome = Outcome.IN_FLIGHT
    return Begun(outcome, record)


def idempotency_judge(
    *, record: IdempotencyRecord, fingerprint: str, now: dt.datetime
) -> Outcome | None:
    """What a request finds in the record already kept for its key: ``None`` when the attempt
    that left it died (no answer after ``IDEMPOTENCY_IN_FLIGHT_SECONDS``), to be taken over."""
    if record.request_hash != fingerprint:
        return Outcome.REUSED
    if record.response_status is not None:
        return Outcome.REPLAY
    stale = now - dt.timedelta(seconds=settings.IDEMPOTENCY_IN_FLIGHT_SECONDS)
    if record.started_at < stale:
        return None
    return Outcome.IN_FLIGHT


def idempotency_finish(*, record: IdempotencyRecord, status: int, body) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        response_status=status, response_body=body
    )


def idempotency_purge(*, now: dt.datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - dt.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
