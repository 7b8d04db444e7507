"""``manage.py seed_demo --region``: a small region, written through the services at its
simulated moments, has something on every screen and chart, and keeps the books right."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.models import Count, Q
from django.db.models.functions import TruncMonth

from accounts import roles
from accounts.models import AgreementStatus, CreditLine, Patient
from billing.demo_region import cast, period
from billing.ledger import credit_used_from_entries
from billing.models import (
    MONEY_TAKEN,
    Bill,
    BillStatus,
    CaseStatus,
    CollectionCase,
    Payment,
    PaymentStatus,
    ReconciliationDifference,
    Refund,
    Visit,
)
from billing.reports import Period, reports
from notifications.models import SmsMessage, SmsStatus

# The command's forked workers commit for real: each sees what the others wrote.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _roles():
    """The roles' groups are rows of data migrations, which an earlier transactional test's
    flush removed: made again as the migrations make them."""
    roles.sync_roles(MigrationLoader(connection).project_state().apps)


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--region", *args, stdout=out)
    return out.getvalue()


def months_of(first: dt.date, last: dt.date) -> list[dt.date]:
    """The months with at least a week of the period in them."""
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    months = {day.replace(day=1) for day in days}
    return sorted(m for m in months if sum(day.replace(day=1) == m for day in days) >= 7)


def test_a_small_region_has_something_on_every_screen_and_right_books():
    output = seed("--patients", "40", "--months", "1", "--workers", "2")

    first, last = period(1)
    region = Q(patient__citizen_card__startswith=cast.CARD_PREFIX)
    assert Patient.objects.filter(citizen_card__startswith=cast.CARD_PREFIX).count() == 40
    # Visits and bills in each month of the period, by when they happened.
    for records, moment in ((Visit.objects, "started_at"), (Bill.objects, "closed_at")):
        months = set(
            records.filter(region)
            .annotate(month=TruncMonth(moment))
            .values_list("month", flat=True)
        )
        assert {m.date() for m in months} >= set(months_of(first, last)), records.model
    # Paid through at least three channels; nothing left waiting at a real one.
    paid = Payment.objects.filter(status__in=MONEY_TAKEN)
    assert {"alipay", "sandbox", "window"} <= set(paid.values_list("channel", flat=True))
    assert not Payment.objects.filter(status=PaymentStatus.PENDING, channel="alipay").exists()
    # The sweep's work, collection staff's, refunds, reconciliation.
    assert Bill.objects.filter(region, status=BillStatus.OVERDUE).exists()
    assert CollectionCase.objects.filter(region, status=CaseStatus.OPEN).exists()
    assert Patient.objects.filter(agreement__status=AgreementStatus.SUSPENDED).exists()
    assert Refund.objects.exists()
    assert ReconciliationDifference.objects.exists()
    # Every report has rows to show.
    for report in reports(Period(first, last)):
        assert report.rows, report.key
    # The books: every credit line's cache is the sum of its entries.
    for line in CreditLine.objects.all():
        assert line.used == credit_used_from_entries(line=line), line
    # Every SMS went out (none left for a worker), most delivered.
    statuses = dict(SmsMessage.objects.values_list("status").annotate(n=Count("pk")).order_by())
    assert SmsStatus.QUEUED not in statuses and SmsStatus.SENDING not in statuses
    assert statuses[SmsStatus.DELIVERED] > 0.8 * sum(statuses.values())
    # The demo as without --region, its suspended patient too, then the region's summary.
    assert "DEMO0000004" in output and "suspended" in output
    assert "Demo region:" in output and "patients 40" in output

    with pytest.raises(CommandError, match="already"):
        seed("--patients", "5", "--months", "1")


def test_the_region_is_refused_where_it_does_not_belong(settings):
    call_command("seed_demo", stdout=io.StringIO())  # the plain demo: a visit already
    with pytest.raises(CommandError, match="already has visits"):
        seed("--patients", "5", "--months", "1")

    settings.SANDBOX_ENABLED = False
    with pytest.raises(CommandError, match="sandbox"):
        seed("--patients", "5", "--months", "1")
    assert not Patient.objects.filter(citizen_card__startswith=cast.CARD_PREFIX).exists()
