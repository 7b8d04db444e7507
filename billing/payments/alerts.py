"""Alerts for finance. Every few minutes ``alerts_check`` looks at each rule's condition:
one that holds raises an alert (a row, and an SMS to the on-call list) unless an alert of
the same condition is still active; an active alert whose condition is gone is cleared.

The rules, with their defaults from the seeds (settings ``ALERT_*``):
* a channel's open reconciliation differences above 1% of its day's volume;
* a channel's payment failures or timeouts above 20% of its payments in the last hour;
* a channel's statement that failed to download twice;
* SMS failures above 10% of the messages of the last hour.
"""

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from billing.models import (
    Alert,
    AlertRule,
    AlertSeverity,
    DifferenceStatus,
    Payment,
    PaymentStatus,
    ReconciliationRun,
    RunStatus,
)
from billing.payments.gateways import WINDOW_CHANNEL, channel_name
from creditcare.errors import DomainError
from creditcare.i18n import site_language
from creditcare.money import ZERO
from notifications.models import SmsMessage, SmsStatus
from notifications.services import sms_queue

logger = logging.getLogger(__name__)

HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Condition:
    """A rule's condition that holds now: what the alert says."""

    rule: str
    key: str
    severity: str
    message: str


def alerts_check(*, now: dt.datetime | None = None) -> tuple[int, int]:
    """Raise the alerts of conditions that hold and have none active; clear the active
    alerts whose condition is gone. Returns (raised, cleared). Safe to run twice at once."""
    now = now or timezone.now()
    with site_language():  # an alert's words are the site's, whoever checks
        holding = {c.key: c for c in _conditions(now)}
    raised = cleared = 0
    active = {alert.key: alert for alert in Alert.objects.filter(cleared_at=None)}
    for key, condition in holding.items():
        if key not in active and _raise(condition):
            raised += 1
    gone = [alert.pk for key, alert in active.items() if key not in holding]
    cleared = Alert.objects.filter(pk__in=gone, cleared_at=None).update(cleared_at=now)
    if raised or cleared:
        logger.info("alerts: %d raised, %d cleared", raised, cleared)
    return raised, cleared


def alert_acknowledge(*, alert: Alert, actor: User) -> Alert:
    """Someone in finance has seen it and is on it. The alert stays until it clears."""
    with transaction.atomic():
        locked = Alert.objects.select_for_update().get(pk=alert.pk)
        if locked.acknowledged_at is not None:
            raise DomainError("acknowledged_already", _("This alert is acknowledged already."))
        locked.acknowledged_by, locked.acknowledged_at = actor, timezone.now()
        locked.save(update_fields=["acknowledged_by", "acknowledged_at"])
    return locked


def _raise(condition: Condition) -> bool:
    """Write the alert and queue its SMS in one transaction; ``False`` if another check
    raised it first."""
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                rule=condition.rule,
                key=condition.key,
                severity=condition.severity,
                message=condition.message,
            )
            for phone in settings.FINANCE_ONCALL_PHONES:
                sms_queue(
                    to=phone,
                    template="finance_alert",
                    context={"message": condition.message},
                    dedup_key=f"alert:{alert.pk}:{phone}",
                )
    except IntegrityError:  # the same condition raised by a check running beside this one
        return False
    logger.warning("alert raised: %s", condition.message)
    return True


def _conditions(now: dt.datetime) -> list[Condition]:
    return [
        *_reconciliation_differences(),
        *_statement_downloads(),
        *_payment_failures(now),
        *_sms_failures(now),
    ]


def _percent(share: Decimal) -> str:
    return f"{share * 100:.1f}%"


def _reconciliation_differences() -> list[Condition]:
    """The latest statement run of each channel whose open differences exceed the share."""
    latest: dict[str, ReconciliationRun] = {}
    runs = ReconciliationRun.objects.filter(cashier=None).exclude(status=RunStatus.FAILED)
    for run in runs.order_by("channel", "-day").distinct("channel"):
        latest[run.channel] = run
    conditions = []
    for channel, run in latest.items():
        amounts = run.differences.filter(status=DifferenceStatus.OPEN).values_list(
            "channel_amount", "our_amount"
        )
        differing = sum((abs((c or ZERO) - (o or ZERO)) for c, o in amounts), ZERO)
        volume = max(abs(run.channel_total), abs(run.our_total))
        if differing and (not volume or differing / volume > settings.ALERT_RECONCILIATION_SHARE):
            share = differing / volume if volume else Decimal(1)
            conditions.append(
                Condition(
                    AlertRule.RECONCILIATION_DIFFERENCES,
                    f"{AlertRule.RECONCILIATION_DIFFERENCES}:{channel}",
                    AlertSeverity.CRITICAL,
                    _(
                        "%(channel)s, %(day)s: open reconciliation differences of %(amount)s, "
                        "%(share)s of the day's %(volume)s."
                    )
                    % {
                        "channel": channel_name(channel),
                        "day": run.day,
                        "amount": differing,
                        "share": _percent(share),
                        "volume": volume,
                    },
                )
            )
    return conditions


def _statement_downloads() -> list[Condition]:
    """Runs whose statement has failed to download twice or more, of the last week."""
    since = timezone.localdate() - dt.timedelta(days=7)
    failed = ReconciliationRun.objects.filter(
        cashier=None, status=RunStatus.FAILED, attempts__gte=2, day__gte=since
    )
    return [
        Condition(
            AlertRule.STATEMENT_DOWNLOAD,
            f"{AlertRule.STATEMENT_DOWNLOAD}:{run.channel}:{run.day}",
            AlertSeverity.WARNING,
            _(
                "%(channel)s: the statement of %(day)s failed to download %(attempts)s times "
                "(%(error)s)."
            )
            % {
                "channel": channel_name(run.channel),
                "day": run.day,
                "attempts": run.attempts,
                "error": run.error,
            },
        )
        for run in failed
    ]


def _payment_failures(now: dt.datetime) -> list[Condition]:
    """Channels whose payments of the last hour failed, or still wait on the channel past
    the time it should have answered, above the rate."""
    timed_out = Q(
        status=PaymentStatus.PENDING,
        created_at__lte=now - dt.timedelta(minutes=settings.PAYMENT_QUERY_AFTER_MINUTES),
    )
    rows = (
        Payment.objects.filter(created_at__gt=now - HOUR, created_at__lte=now)
        .exclude(channel=WINDOW_CHANNEL)
        .values("channel")
        .annotate(
            total=Count("pk"),
            failed=Count("pk", filter=Q(status=PaymentStatus.FAILED) | timed_out),
        )
        .order_by()
    )
    return [
        Condition(
            AlertRule.PAYMENT_FAILURES,
            f"{AlertRule.PAYMENT_FAILURES}:{row['channel']}",
            AlertSeverity.CRITICAL,
            _(
                "%(channel)s: %(failed)s of %(total)s payments in the last hour failed or "
                "timed out (%(share)s)."
            )
            % {
                "channel": channel_name(row["channel"]),
                "failed": row["failed"],
                "total": row["total"],
                "share": _percent(Decimal(row["failed"]) / row["total"]),
            },
        )
        for row in rows
        if row["total"] >= settings.ALERT_MIN_ATTEMPTS
        and Decimal(row["failed"]) / row["total"] > settings.ALERT_PAYMENT_FAILURE_RATE
    ]


def _sms_failures(now: dt.datetime) -> list[Condition]:
    """SMS of the last hour that failed, above the rate of those that were tried."""
    tried = SmsMessage.objects.filter(
        created_at__gt=now - HOUR,
        status__in=[SmsStatus.SENT, SmsStatus.DELIVERED, SmsStatus.FAILED],
    ).aggregate(total=Count("pk"), failed=Count("pk", filter=Q(status=SmsStatus.FAILED)))
    total, failed = tried["total"], tried["failed"]
    if (
        total < settings.ALERT_MIN_ATTEMPTS
        or Decimal(failed) / total <= settings.ALERT_SMS_FAILURE_RATE
    ):
        return []
    return [
        Condition(
            AlertRule.SMS_FAILURES,
            AlertRule.SMS_FAILURES,
            AlertSeverity.WARNING,
            _("SMS: %(failed)s of %(total)s messages in the last hour failed (%(share)s).")
            % {"failed": failed, "total": total, "share": _percent(Decimal(failed) / total)},
        )
    ]
