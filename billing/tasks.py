import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import AgreementStatus, Patient
from billing.collections.reminders import reminders_send
from billing.collections.sweep import overdue_sweep
from billing.credit import credit_limits_recompute_many
from billing.einvoices.services import (  # defined with the services that enqueue them
    issue_due_einvoices,  # noqa: F401
    issue_einvoice,  # noqa: F401
)
from billing.figures import figures_record
from billing.payments.alerts import alerts_check
from billing.payments.gateways import GatewayError
from billing.payments.reconciliation import channels_to_reconcile, reconciliation_run
from billing.payments.refunds import refunds_query_unknown, refunds_resend_pending, send_refund
from billing.payments.services import payments_settle_pending
from billing.payments.settlement import settlement_statements_build
from billing.visits.idempotency import idempotency_purge
from creditcare.batching import batched

logger = logging.getLogger(__name__)

# Queued by the refunds service, which defines it (a task beside the service that queues it
# keeps the two modules free of an import cycle); listed here with the app's other tasks.
__all__ = ["send_refund"]


@shared_task
def purge_idempotency_records() -> int:
    """Hourly: forget idempotency keys older than IDEMPOTENCY_KEY_TTL_HOURS (at least 24)."""
    deleted = idempotency_purge()
    logger.info("purged %d idempotency record(s)", deleted)
    return deleted


@shared_task
def settle_pending_payments() -> int:
    """Every minute: ask the channels about payments whose notification has not come, and
    again for refunds whose task was lost."""
    settled = payments_settle_pending()
    resent = refunds_resend_pending()
    if settled or resent:
        logger.info("settled %d pending payment(s), resent %d refund(s)", settled, resent)
    return settled


@shared_task
def query_unknown_refunds() -> dict[str, int]:
    """Daily: ask the channels again about refunds whose outcome is unknown (every request
    went unanswered and the channel could not say whether it made them)."""
    ended = refunds_query_unknown()
    if ended:
        logger.info("queried unknown refunds, now: %s", ended)
    return ended


@shared_task
def sweep_overdue() -> str:
    """Daily: mark bills past due ``overdue``; suspend, reactivate, lower limits."""
    return overdue_sweep().summary()


@shared_task
def send_reminders() -> int:
    """Every half hour: queue the reminders that are due (only in sending hours)."""
    return reminders_send()


@shared_task
def recompute_credit_limits() -> int:
    """Nightly: apply the credit policy to every signed patient, in chunks that workers share.

    Safe to run twice: a limit that already matches the policy is left alone and writes no
    history. Returns how many chunks were queued.
    """
    ids = (
        Patient.objects.filter(
            agreement__status__in=[AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED]
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    chunks = 0
    for chunk in batched(ids.iterator(chunk_size=settings.SWEEP_CHUNK), settings.SWEEP_CHUNK):
        recompute_credit_limits_chunk.delay(chunk)
        chunks += 1
    logger.info("recompute_credit_limits: %d chunk(s) queued", chunks)
    return chunks


@shared_task
def recompute_credit_limits_chunk(patient_ids: list[int]) -> int:
    """One chunk, in one transaction of a constant number of statements."""
    with transaction.atomic():
        changed = credit_limits_recompute_many(patient_ids=patient_ids)
    logger.info("recompute_credit_limits_chunk: %d limit(s) changed", changed)
    return changed


@shared_task
def reconcile_statements(day: str | None = None) -> list[str]:
    """Each early morning: one task per configured channel reconciles yesterday (China time)
    or ``day`` (YYYY-MM-DD). Returns the channels queued."""
    day = day or (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    channels = channels_to_reconcile()
    for channel in channels:
        reconcile_channel.delay(channel, day)
    return channels


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(GatewayError,),
    retry_backoff=300,  # 5 min, 10 min, 20 min, ... with jitter, up to an hour
    retry_backoff_max=3600,
    max_retries=8,
)
def reconcile_channel(self, channel: str, day: str) -> str:
    """Download a channel's statement of a day and store the run (a failed download is
    recorded on the run and tried again). Twice is the same as once."""
    run, _comparison = reconciliation_run(channel=channel, day=dt.date.fromisoformat(day))
    return run.status


@shared_task
def build_settlement_statements(day: str | None = None) -> int:
    """Each morning (T+1): what each institution is owed for yesterday (China time) or
    ``day`` (YYYY-MM-DD), by channel. Rebuilding changes nothing paid out already."""
    day = day or (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    return settlement_statements_build(day=dt.date.fromisoformat(day))


@shared_task
def record_daily_figures(day: str | None = None) -> int:
    """Each night: the books at the end of yesterday (China time) or ``day`` (YYYY-MM-DD),
    for the management reports (``billing.figures``). Safe to run twice."""
    day = day or (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    return figures_record(dt.date.fromisoformat(day))


@shared_task
def check_alerts() -> list[int]:
    """Every five minutes: raise finance's alerts whose condition holds, clear the others."""
    return list(alerts_check())
