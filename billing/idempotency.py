"""Exactly-once POSTs: the first answer to an ``Idempotency-Key`` is kept and replayed.

1. ``idempotency_begin`` inserts the key as *in flight* and commits, so a concurrent retry
   sees it (409) instead of running the request a second time.
2. The request runs; ``idempotency_finish`` stores the answer in the same transaction as
   the request's effects, so an effect without a stored answer cannot exist.
3. A retry with the same key and body gets the stored answer; with another body, 422.

If a worker dies mid-request its key stays in flight; after ``IDEMPOTENCY_IN_FLIGHT_SECONDS``
a retry takes it over (compare-and-swap on ``started_at``), and the natural keys
(``his_visit_id``, ``his_line_id``) make the rerun a no-op if the first run had committed.
"""

import datetime as dt
import enum
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Institution
from billing.models import IdempotencyRecord


class Outcome(enum.Enum):
    PROCEED = "proceed"  # first time (or a dead attempt taken over): run the request
    REPLAY = "replay"  # answered before: send the stored answer
    REUSED = "reused"  # the key was used for another request
    IN_FLIGHT = "in_flight"  # the first attempt is still running


@dataclass(frozen=True)
class Begun:
    outcome: Outcome
    record: IdempotencyRecord


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()


def idempotency_begin(*, institution: Institution, key: str, fingerprint: str) -> Begun:
    now = timezone.now()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                institution=institution, key=key, request_hash=fingerprint, started_at=now
            )
        return Begun(Outcome.PROCEED, record)
    except IntegrityError:
        record = IdempotencyRecord.objects.get(institution=institution, key=key)
    if record.request_hash != fingerprint:
        return Begun(Outcome.REUSED, record)
    if record.response_status is not None:
        return Begun(Outcome.REPLAY, record)
    stale = now - dt.timedelta(seconds=settings.IDEMPOTENCY_IN_FLIGHT_SECONDS)
    if record.started_at < stale:
        taken = IdempotencyRecord.objects.filter(
            pk=record.pk, response_status=None, started_at=record.started_at
        ).update(started_at=now)
        if taken:
            record.started_at = now
            return Begun(Outcome.PROCEED, record)
    return Begun(Outcome.IN_FLIGHT, record)


def idempotency_finish(*, record: IdempotencyRecord, status: int, body) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        response_status=status, response_body=body
    )


def idempotency_abandon(*, record: IdempotencyRecord) -> None:
    """The request failed with a fault of ours: forget the key so a retry runs again."""
    IdempotencyRecord.objects.filter(pk=record.pk, response_status=None).delete()


def idempotency_purge(*, now: dt.datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - dt.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
