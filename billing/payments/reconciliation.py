"""Each morning's reconciliation, stored and worked by finance: a run per channel and day
(``statement_compare`` says what differs), and the actions that resolve a difference."""

import datetime as dt
import logging
from collections.abc import Mapping
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from billing.models import (
    MONEY_TAKEN,
    DifferenceEvent,
    DifferenceKind,
    DifferenceStatus,
    Payment,
    PaymentStatus,
    ReconciliationDifference,
    ReconciliationRun,
    Resolution,
    TillCount,
    WindowMethod,
)
from billing.payments.gateways import WINDOW_CHANNEL, GatewayError, Notification, get_gateway
from billing.payments.refunds import refund_request, refundable
from billing.payments.selectors import (
    Comparison,
    Difference,
    statement_compare,
    window_takings,
)
from billing.payments.services import payment_notified
from creditcare.errors import DomainError
from creditcare.i18n import site_language
from creditcare.money import ZERO, quantize

logger = logging.getLogger(__name__)


def channels_to_reconcile() -> list[str]:
    """The channels whose statements are downloaded each morning: those configured."""
    channels = []
    for channel in settings.PAYMENT_CHANNELS:
        try:
            if get_gateway(channel).configured():
                channels.append(channel)
        except KeyError:
            continue
    return channels


def reconciliation_run(*, channel: str, day: dt.date) -> tuple[ReconciliationRun, Comparison]:
    """Download ``channel``'s statement of ``day`` (China time), compare it with our books,
    and store the run with a difference per mismatch. The run, and what this comparison
    found.

    Run again for the same day, it adds the differences that are new, clears the open ones
    our books now match, and leaves the resolved ones as they are. A failed download is
    recorded on the run, then raised (``GatewayError``) for the caller to try again.
    ``KeyError`` for a channel we do not know.
    """
    gateway = get_gateway(channel)
    try:
        lines = gateway.statement(day)
    except GatewayError as error:
        with transaction.atomic():
            run = _run_lock(channel=channel, day=day)
            run.attempts += 1
            run.error = str(error)[:300]
            run.save(update_fields=["attempts", "error"])
        logger.warning("statement of %s for %s not downloaded: %s", channel, day, error)
        raise
    comparison = statement_compare(channel=channel, day=day, lines=lines)
    now = timezone.now()
    with transaction.atomic():
        run = _run_lock(channel=channel, day=day)
        _differences_store(run, comparison.differences, now=now)
        run.channel_count, run.channel_total = len(lines), comparison.channel_total
        run.our_count, run.our_total = comparison.our_count, comparison.our_total
        run.attempts += 1
        run.error, run.checked_at = "", now
        _run_state_refresh(run, now=now)
        run.save()
    found = ", ".join(f"{n} {kind}" for kind, n in sorted(comparison.by_kind.items()))
    logger.info("reconciled %s for %s: %s", channel, day, found or "balanced")
    return run, comparison


def till_close(*, cashier: User, day: dt.date, counts: Mapping[str, Decimal]) -> ReconciliationRun:
    """The cashier's end-of-day count of the till, one amount per way of paying (cash, bank
    card, scanned code), against what they recorded that day: window payments, less the
    refunds they paid out the same way. A count that differs is a difference for finance,
    as a statement's are. Counting again replaces the count; what finance resolved stays."""
    counts = {method: quantize(counts.get(method) or ZERO) for method in WindowMethod.values}
    if any(amount < 0 for amount in counts.values()):
        raise DomainError("invalid_count", _("A count is an amount of 0 or more."))
    recorded = window_takings(cashier=cashier, day=day)
    now = timezone.now()
    with transaction.atomic():
        run = _run_lock(channel=WINDOW_CHANNEL, day=day, cashier=cashier)
        run.institution_id = cashier.institution_id
        for method, counted in counts.items():
            TillCount.objects.update_or_create(
                run=run,
                method=method,
                defaults={"counted": counted, "recorded": recorded.get(method, ZERO)},
            )
        differences = [
            Difference(
                DifferenceKind.COUNT,
                f"{DifferenceKind.COUNT}:{method}",
                channel_amount=counted,
                our_amount=recorded.get(method, ZERO),
            )
            for method, counted in counts.items()
            if counted != recorded.get(method, ZERO)
        ]
        _differences_store(run, differences, now=now)
        run.channel_count, run.channel_total = len(counts), sum(counts.values(), ZERO)
        run.our_count, run.our_total = len(recorded), sum(recorded.values(), ZERO)
        run.attempts += 1
        run.checked_at = now
        _run_state_refresh(run, now=now)
        run.save()
    logger.info("till of %s closed for %s: %s", cashier, day, run.status)
    return run


def _differences_store(
    run: ReconciliationRun, differences: list[Difference], *, now: dt.datetime
) -> None:
    """Store what a (re-)run of a locked run found: new differences added, open ones found
    again brought up to date, open ones no longer found cleared; resolved ones stay."""
    stored = {d.key: d for d in run.differences.select_for_update()}
    ReconciliationDifference.objects.bulk_create(
        ReconciliationDifference(
            run=run,
            kind=found.kind,
            key=found.key,
            out_trade_no=found.out_trade_no,
            out_refund_no=found.out_refund_no,
            gateway_trade_no=found.gateway_trade_no,
            channel_amount=found.channel_amount,
            our_amount=found.our_amount,
            at=found.at,
            payment_id=found.payment_id,
            refund_id=found.refund_id,
        )
        for found in differences
        if found.key not in stored
    )
    for found in differences:
        again = stored.get(found.key)
        if again is not None and again.status == DifferenceStatus.OPEN:
            again.channel_amount, again.our_amount = found.channel_amount, found.our_amount
            again.save(update_fields=["channel_amount", "our_amount"])
    still = {found.key for found in differences}
    with site_language():  # the record's words, whoever runs it
        cleared = _("Our books and the statement agree on it now (run of %(at)s).") % {
            "at": timezone.localtime(now).strftime("%Y-%m-%d %H:%M")
        }
    for difference in stored.values():
        if difference.status == DifferenceStatus.OPEN and difference.key not in still:
            _resolve(difference, Resolution.CLEARED, actor=None, reason=cleared)


def _run_lock(*, channel: str, day: dt.date, cashier: User | None = None) -> ReconciliationRun:
    """The run of a channel and day (a cashier's, at the window), created if new, locked:
    one re-run at a time."""
    run, _created = ReconciliationRun.objects.get_or_create(
        channel=channel, day=day, cashier=cashier
    )
    return ReconciliationRun.objects.select_for_update().get(pk=run.pk)


def _run_state_refresh(run: ReconciliationRun, *, now: dt.datetime) -> None:
    """The run's state from its differences: some open, all resolved, or none ever."""
    differences = run.differences.all()
    if differences.filter(status=DifferenceStatus.OPEN).exists():
        run.find_differences()
        run.closed_at = None
    elif differences.exists():
        run.close()
        run.closed_at = run.closed_at or now
    else:
        run.balance()


def _resolve(
    difference: ReconciliationDifference,
    resolution: str,
    *,
    actor: User | None,
    reason: str,
    detail: str = "",
) -> None:
    """Mark a locked difference resolved, with its event."""
    difference.resolve()
    difference.resolution, difference.reason = resolution, reason
    difference.resolved_by, difference.resolved_at = actor, timezone.now()
    difference.save(update_fields=["status", "resolution", "reason", "resolved_by", "resolved_at"])
    DifferenceEvent.objects.create(
        difference=difference, resolution=resolution, actor=actor, reason=reason, detail=detail
    )


# What each resolution may settle. Timing and write-off fit every kind: finance's decision.
RESOLUTIONS_FOR = {
    Resolution.SETTLED: {DifferenceKind.MISSING_HERE},
    Resolution.REFUNDED: {DifferenceKind.MISSING_HERE, DifferenceKind.DUPLICATE},
    Resolution.LINKED: {
        DifferenceKind.MISSING_HERE,
        DifferenceKind.MISSING_AT_CHANNEL,
        DifferenceKind.COUNT,
    },
    Resolution.TIMING: set(DifferenceKind),
    Resolution.WRITTEN_OFF: set(DifferenceKind),
}


def difference_resolve(
    *,
    difference: ReconciliationDifference,
    resolution: str,
    actor: User,
    reason: str,
    payment: Payment | None = None,
) -> ReconciliationDifference:
    """Resolve a difference, with a reason, by one of finance's actions:

    * ``settled``: money the channel took that we did not record is recorded from the
      statement, paying the bill as the lost notification would have;
    * ``refunded``: money we do not need (a duplicate, or money for a bill already paid)
      goes back to the payer through the channel;
    * ``linked``: the difference is the same money as ``payment`` (for example a payment
      recorded under another number);
    * ``timing``: it appears on another day's statement;
    * ``written_off``: finance accepts the difference.

    The run closes when its last difference is resolved.
    """
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required", _("Please give a reason."))
    if resolution not in RESOLUTIONS_FOR:
        raise DomainError("unknown_resolution", _("There is no such way to resolve it."))
    if difference.kind not in RESOLUTIONS_FOR[resolution]:
        raise DomainError(
            "resolution_not_allowed",
            _("“%(resolution)s” does not resolve a difference of this kind (%(kind)s).")
            % {
                "resolution": Resolution(resolution).label,
                "kind": DifferenceKind(difference.kind).label,
            },
        )
    if resolution == Resolution.LINKED and payment is None:
        raise DomainError("payment_required", _("Choose the payment it is."))
    # The difference is locked before anything is done: a second click on "Resolve" waits,
    # then finds it resolved, and settles or refunds nothing twice.
    with transaction.atomic():
        run = ReconciliationRun.objects.select_for_update().get(pk=difference.run_id)
        locked = ReconciliationDifference.objects.select_for_update().get(pk=difference.pk)
        if locked.status != DifferenceStatus.OPEN:
            raise DomainError("difference_resolved", _("This difference is resolved already."))
        detail = ""
        if resolution == Resolution.SETTLED:
            detail = _settle_from_statement(locked)
        elif resolution == Resolution.REFUNDED:
            detail = _refund_extra(locked, actor=actor, reason=reason)
        elif resolution == Resolution.LINKED:
            locked.payment = payment
            locked.save(update_fields=["payment"])
            detail = _("linked to payment %(number)s") % {"number": payment.out_trade_no}
        _resolve(locked, resolution, actor=actor, reason=reason, detail=detail)
        _run_state_refresh(run, now=timezone.now())
        run.save(update_fields=["status", "closed_at"])
    return locked


def _settle_from_statement(difference: ReconciliationDifference) -> str:
    """Record the money the statement shows as a notification would: the bill is paid."""
    payment = difference.payment
    if payment is None or payment.amount != difference.channel_amount:
        raise DomainError(
            "settle_not_possible",
            _(
                "Only money for a payment of ours, for its amount, can be settled from the "
                "statement: refund it or write it off."
            ),
        )
    payment_notified(
        channel=payment.channel,
        notification=Notification(
            out_trade_no=payment.out_trade_no,
            gateway_trade_no=difference.gateway_trade_no,
            amount=difference.channel_amount,
            status=PaymentStatus.SUCCEEDED,
            raw={"statement": str(difference.run), "difference": difference.pk},
            paid_at=difference.at,
        ),
    )
    return _("payment %(number)s recorded from the statement") % {"number": payment.out_trade_no}


def _refund_extra(difference: ReconciliationDifference, *, actor: User, reason: str) -> str:
    """Give back, through the channel, money of a payment of ours the bill does not need."""
    payment = difference.payment
    if payment is None or payment.status not in MONEY_TAKEN:
        raise DomainError(
            "refund_not_possible",
            _("Only money of a payment recorded in our books can be refunded from here."),
        )
    amount = min(difference.channel_amount or Decimal("0"), refundable(payment))
    refund = refund_request(
        payment=payment, amount=amount, reason=reason, actor=f"staff:{actor.get_username()}"
    )
    return _("refund %(number)s of %(amount)s asked") % {
        "number": refund.out_refund_no,
        "amount": refund.amount,
    }
