"""Finance's alerts fire once while their condition lasts, go by SMS to the on-call list,
are acknowledged, and clear when the condition is gone."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from billing.models import (
    Alert,
    DifferenceKind,
    PaymentStatus,
    ReconciliationDifference,
    ReconciliationRun,
    Resolution,
    RunStatus,
)
from billing.payments.alerts import alert_acknowledge, alerts_check
from billing.payments.reconciliation import difference_resolve
from billing.tasks import check_alerts
from creditcare.errors import DomainError
from notifications.models import SmsMessage
from tests.billing.paying import press, start
from tests.conftest import logged_in
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

ONCALL = ["+8613900000001", "+8613900000002"]


@pytest.fixture
def oncall(settings):
    settings.FINANCE_ONCALL_PHONES = ONCALL
    settings.ALERT_MIN_ATTEMPTS = 3


@pytest.fixture
def finance():
    return StaffFactory(username="finance-bo", role="Finance")


def alerts_sent() -> list[str]:
    return list(
        SmsMessage.objects.filter(template="finance_alert")
        .order_by("pk")
        .values_list("to", flat=True)
    )


def differing_run(channel_total: str, difference: str) -> ReconciliationDifference:
    run = ReconciliationRun.objects.create(
        channel="alipay",
        day=timezone.localdate() - dt.timedelta(days=1),
        status=RunStatus.DIFFERENCES,
        channel_total=Decimal(channel_total),
        our_total=Decimal(channel_total),
    )
    return ReconciliationDifference.objects.create(
        run=run,
        kind=DifferenceKind.AMOUNT,
        key="amount:CC1",
        out_trade_no="CC1",
        channel_amount=Decimal(difference),
        our_amount=Decimal("0.00"),
    )


def test_differences_above_one_percent_alert_once_and_clear_when_resolved(oncall, finance):
    difference = differing_run("1000.00", "10.01")  # 1.001% of the day

    assert alerts_check() == (1, 0)
    assert alerts_check() == (0, 0)  # the same condition: no second alert, no second SMS
    alert = Alert.objects.get()
    assert alert.rule == "reconciliation_differences" and "10.01" in alert.message
    assert alerts_sent() == ONCALL

    alert_acknowledge(alert=alert, actor=finance)
    assert alerts_check() == (0, 0)  # acknowledged, still there: it does not fire again
    with pytest.raises(DomainError):
        alert_acknowledge(alert=alert, actor=finance)

    difference_resolve(
        difference=difference, resolution=Resolution.WRITTEN_OFF, actor=finance, reason="核销"
    )
    assert alerts_check() == (0, 1)
    alert.refresh_from_db()
    assert alert.cleared_at is not None and alert.acknowledged_by == finance
    assert alerts_check() == (0, 0)
    assert alerts_sent() == ONCALL  # nothing more was sent


def test_one_percent_or_less_does_not_alert(oncall):
    differing_run("1000.00", "10.00")
    assert alerts_check() == (0, 0) and not Alert.objects.exists()


def test_a_statement_failing_twice_alerts(oncall):
    run = ReconciliationRun.objects.create(
        channel="alipay", day=timezone.localdate(), attempts=1, error="502"
    )
    assert alerts_check() == (0, 0)
    run.attempts = 2
    run.save()
    assert alerts_check() == (1, 0)
    assert Alert.objects.get().rule == "statement_download"


def test_payment_failures_in_the_last_hour_alert(oncall, verified, link, settings):
    settings.ALERT_MIN_ATTEMPTS = 2
    now = timezone.now()
    with time_machine.travel(now):
        first = start(verified, link)
        press(verified, first, "failed")
        second = start(verified, link)
        press(verified, second, "failed")
    assert second.__class__.objects.filter(status=PaymentStatus.FAILED).count() == 2
    with time_machine.travel(now + dt.timedelta(minutes=5)):
        assert check_alerts() == [1, 0]
    assert Alert.objects.get().rule == "payment_failures"
    with time_machine.travel(now + dt.timedelta(hours=2)):  # an hour without failures
        assert check_alerts() == [0, 1]


def test_sms_failures_alert(oncall, settings):
    from notifications.models import SmsStatus

    for n in range(4):
        SmsMessage.objects.create(
            to=f"+861390000100{n}",
            template="verification_code",
            body="x",
            dedup_key=f"k{n}",
            status=SmsStatus.FAILED if n < 2 else SmsStatus.DELIVERED,
        )
    assert alerts_check() == (1, 0)
    assert Alert.objects.get().key == "sms_failures"


def test_finance_sees_active_alerts_on_the_home_page_and_acknowledges(oncall, finance):
    differing_run("100.00", "50.00")
    alerts_check()
    client = logged_in(finance)
    home = client.get("/admin/").content.decode()
    assert "data-alerts" in home and "50.00" in home
    alert = Alert.objects.get()
    listing = client.get("/admin/billing/alert/?active=yes")
    assert listing.status_code == 200
    client.post("/admin/billing/alert/", {"action": "acknowledge", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert alert.acknowledged_by == finance


def test_window_staff_see_no_alerts(oncall, window_clerk):
    differing_run("100.00", "50.00")
    alerts_check()
    client = logged_in(window_clerk)
    assert "data-alerts" not in client.get("/admin/").content.decode()
    assert client.get("/admin/billing/alert/").status_code == 403
