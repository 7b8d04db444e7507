"""Electronic invoices: asked of the platform when a bill is paid, and a red-letter reversal
for each refunded part, each after commit by Celery and again until the platform answers.

An ``EInvoice`` row is written in the transaction that paid the bill (or finished the
refund), so none is lost; ``einvoice_attempt`` then asks the platform, with the row locked,
and records its answer. A timeout is asked again with backoff (``creditcare.backoff``) under
the same request number, so the platform never issues two; "processing" is asked again
shortly; a refusal waits for finance (``einvoice_retry``). A red invoice waits for its
original to be issued.
"""

import datetime as dt
import logging
from collections import defaultdict
from decimal import Decimal

from celery import shared_task
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from billing.einvoices.documents import request_of
from billing.einvoices.providers import Answer, ProviderError, get_provider, provider_configured
from billing.einvoices.selectors import einvoices_due
from billing.models import (
    EInvoice,
    EInvoiceEvent,
    EInvoiceEventKind,
    EInvoiceStatus,
    Invoice,
    Refund,
)
from billing.visits.selectors import bill_charges
from creditcare.backoff import retry_delay
from creditcare.errors import DomainError
from creditcare.money import ZERO, money_sum

logger = logging.getLogger(__name__)

# How soon to ask again when the platform is still "processing", and while a red invoice
# waits for its original.
POLL = dt.timedelta(seconds=30)


def einvoice_request(*, invoice: Invoice) -> EInvoice | None:
    """Ask for the paid bill's e-invoice (none when no platform is configured). Called in the
    transaction that paid the bill; asked after commit."""
    provider = provider_configured()
    if not provider:
        return None
    bill = invoice.bill
    by_category: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for category, amount in bill_charges(bill=bill).values_list("category", "amount"):
        by_category[category] += amount
    einvoice = EInvoice.objects.create(
        invoice=invoice,
        provider=provider,
        payer_name=bill.patient.name,
        payer_id_masked=bill.patient.masked_id_number,
        items=[[category, str(amount)] for category, amount in sorted(by_category.items())],
        total=bill.total,
        insurance_fund=bill.insurance_fund,
        personal_account=bill.personal_account,
        self_pay=bill.self_pay,
        next_attempt_at=timezone.now(),
    )
    return _requested(einvoice)


def einvoice_reverse(*, refund: Refund) -> EInvoice | None:
    """A red-letter reversal of the part of the bill's e-invoice that ``refund`` gave back
    (the self-pay part of a voided charge). Called in the transaction that finished it; asked
    for once the original is issued."""
    invoice = Invoice.objects.filter(bill_id=refund.payment.bill_id).first()
    blue = invoice.einvoice if invoice else None
    if blue is None or refund.charge_id is None:
        return None
    amount = -refund.amount
    einvoice = EInvoice.objects.create(
        invoice=invoice,
        red=True,
        original=blue,
        refund=refund,
        provider=blue.provider,
        payer_name=blue.payer_name,
        payer_id_masked=blue.payer_id_masked,
        items=[[refund.charge.category, str(amount)]],
        total=amount,
        insurance_fund=ZERO,
        personal_account=ZERO,
        self_pay=amount,
        next_attempt_at=timezone.now() if blue.status == EInvoiceStatus.ISSUED else None,
    )
    return _requested(einvoice)


def _requested(einvoice: EInvoice) -> EInvoice:
    EInvoiceEvent.objects.create(einvoice=einvoice, kind=EInvoiceEventKind.REQUESTED)
    _ask_after_commit(einvoice)
    return einvoice


def _ask_after_commit(einvoice: EInvoice) -> None:
    pk = str(einvoice.pk)
    # robust: a broker hiccup must not fail the payment; the every-minute task asks later.
    transaction.on_commit(lambda: issue_einvoice.delay(pk), robust=True)


def einvoice_attempt(*, einvoice_id: str) -> EInvoice | None:
    """Ask the platform for a requested e-invoice that is due, and record its answer. Safe
    to run twice and on two workers at once: the row is locked while the platform is asked,
    and one not due or answered is left alone. A red invoice waits (no time to ask) until
    its original is issued, which wakes it."""
    now = timezone.now()
    with transaction.atomic():
        einvoice = (
            EInvoice.objects.select_for_update(no_key=True, skip_locked=True, of=("self",))
            .select_related("invoice__bill__institution", "original")
            .filter(pk=einvoice_id, status=EInvoiceStatus.REQUESTED, next_attempt_at__lte=now)
            .first()
        )
        if einvoice is None:
            return None
        if einvoice.red and einvoice.original.status != EInvoiceStatus.ISSUED:
            einvoice.next_attempt_at = None
            einvoice.save(update_fields=["next_attempt_at"])
            return einvoice
        _ask(einvoice, now=now)
        einvoice.save()
        if einvoice.status == EInvoiceStatus.ISSUED:
            if einvoice.red:
                _reversed_in_full(einvoice.original)
            else:
                _wake_reversals(einvoice, now=now)
    return einvoice


def _ask(einvoice: EInvoice, *, now: dt.datetime) -> None:
    asked_before = einvoice.attempts > 0
    einvoice.attempts += 1
    try:
        provider = get_provider(einvoice.provider)
        # After a lost answer the platform may have it: asking about it comes first.
        answer = provider.query(str(einvoice.id)) if asked_before else None
        if answer is None:
            answer = provider.issue(request_of(einvoice))
    except ProviderError as error:
        einvoice.last_error = str(error)[:300]
        einvoice.next_attempt_at = now + retry_delay(einvoice.attempts)
        EInvoiceEvent.objects.create(
            einvoice=einvoice, kind=EInvoiceEventKind.NOT_ANSWERED, note=einvoice.last_error
        )
        logger.info("e-invoice %s: platform did not answer (%s)", einvoice.pk, error)
        return
    except DatabaseError:
        raise  # nothing is recorded: the task fails, and beat asks again
    except Exception as error:  # ours (a setting, a bug): asking again would fail the same
        logger.exception("e-invoice %s could not be asked for", einvoice.pk)
        answer = Answer(state="refused", reason=f"{type(error).__name__}: {error}")
    if answer.state == "processing":
        einvoice.next_attempt_at = now + POLL
    elif answer.state == "refused":
        einvoice.last_error = answer.reason[:300]
        einvoice.fail()
        EInvoiceEvent.objects.create(
            einvoice=einvoice, kind=EInvoiceEventKind.REFUSED, note=einvoice.last_error
        )
        logger.warning("e-invoice %s refused: %s", einvoice.pk, answer.reason)
    else:
        einvoice.code, einvoice.number = answer.code, answer.number
        einvoice.check_code, einvoice.issued_on = answer.check_code, answer.issued_on
        einvoice.issued_at, einvoice.last_error = now, ""
        einvoice.issue()
        EInvoiceEvent.objects.create(einvoice=einvoice, kind=EInvoiceEventKind.ISSUED)


def _wake_reversals(original: EInvoice, *, now: dt.datetime) -> None:
    """The red invoices that waited for ``original`` to be issued are asked for now."""
    waiting = list(original.reversals.filter(status=EInvoiceStatus.REQUESTED, next_attempt_at=None))
    EInvoice.objects.filter(pk__in=[red.pk for red in waiting]).update(next_attempt_at=now)
    for red in waiting:
        _ask_after_commit(red)


def _reversed_in_full(original: EInvoice) -> None:
    """The original is reversed once issued red invoices give back its whole self-pay."""
    original = EInvoice.objects.select_for_update(no_key=True).get(pk=original.pk)
    reversed_total = money_sum(original.reversals.filter(status=EInvoiceStatus.ISSUED), "total")
    if original.status == EInvoiceStatus.ISSUED and original.self_pay + reversed_total <= 0:
        original.reverse()
        original.save(update_fields=["status"])
        EInvoiceEvent.objects.create(einvoice=original, kind=EInvoiceEventKind.REVERSED)


def einvoice_retry(*, einvoice: EInvoice, actor: User, reason: str) -> EInvoice:
    """Finance asks the platform again for an e-invoice it refused, after putting right what
    it refused it for: the payer is read again from the patient's record. A red invoice is
    asked again only once its original is issued."""
    if not reason.strip():
        raise DomainError("reason_required", _("Say why the platform is asked again."))
    with transaction.atomic():
        einvoice = (
            EInvoice.objects.select_for_update(no_key=True, of=("self",))
            .select_related("original", "invoice__bill__patient")
            .get(pk=einvoice.pk)
        )
        if einvoice.status != EInvoiceStatus.FAILED:
            return einvoice  # a second click: asked already
        if einvoice.red and einvoice.original.status != EInvoiceStatus.ISSUED:
            raise DomainError(
                "einvoice_original_not_issued",
                _("The invoice it reverses is not issued yet: ask for that one first."),
            )
        if not einvoice.red:
            patient = einvoice.invoice.bill.patient
            einvoice.payer_name = patient.name
            einvoice.payer_id_masked = patient.masked_id_number
        einvoice.ask_again()
        einvoice.next_attempt_at = timezone.now()
        einvoice.save()
        EInvoiceEvent.objects.create(
            einvoice=einvoice, kind=EInvoiceEventKind.RETRIED, actor=actor, note=reason.strip()
        )
        _ask_after_commit(einvoice)
    return einvoice


@shared_task(name="billing.tasks.issue_einvoice")
def issue_einvoice(einvoice_id: str) -> str | None:
    """Ask the platform for one e-invoice if it is due (safe to run twice)."""
    einvoice = einvoice_attempt(einvoice_id=einvoice_id)
    return einvoice.status if einvoice else None


@shared_task(name="billing.tasks.issue_due_einvoices")
def issue_due_einvoices() -> int:
    """Every minute: the e-invoices whose time to ask has come, and any whose task was lost."""
    due = einvoices_due()
    for pk in due:
        issue_einvoice.delay(pk)
    return len(due)
