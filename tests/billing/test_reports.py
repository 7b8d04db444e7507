"""Management's reports: the figures of each report from the records, the page for the
roles that may see it, its CSV."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts import roles
from billing.figures import figures_at, figures_record
from billing.models import Bill, BillStatus, DailyFigure, DailyVisitCount, FigureMeasure
from billing.payments.selectors import day_bounds
from billing.reports import (
    Period,
    credit_in_use,
    payments_by_day,
    recovered_and_written_off,
    signups_by_month,
    sms_delivery,
    time_to_pay,
    usage_rate,
)
from notifications.models import SmsMessage, SmsStatus
from tests.billing.test_settlement import record_payment
from tests.conftest import logged_in
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def period(today):
    return Period(today - dt.timedelta(days=6), today)


def test_signups_count_by_month_institution_channel_band_and_residence(signed_patient, period):
    patient = signed_patient.patient
    patient.birth_date = period.end.replace(year=period.end.year - 68)  # 68 at the period's end
    patient.save(update_fields=["birth_date"])
    report = signups_by_month(period)
    assert sum(sum(s["values"]) for s in report.series) == 1
    ((_month, institution, band, window, online, residents, outsiders),) = report.rows
    assert institution == signed_patient.institution.name
    assert (window, online, residents + outsiders) == (1, 0, 1)
    assert band == "60-74"


def test_payments_by_channel_and_day(link, period, today):
    start, _end = day_bounds(today)
    record_payment(link.bill, "alipay", Decimal("35.00"), start + dt.timedelta(hours=9))
    record_payment(link.bill, "wechat", Decimal("10.00"), start + dt.timedelta(hours=10))
    report = payments_by_day(period)
    assert {row[1]: row[3] for row in report.rows} == {
        "Alipay": Decimal("35.00"),
        "WeChat Pay": Decimal("10.00"),
    }
    assert [s["values"][-1] for s in report.series] == [Decimal("35.00"), Decimal("10.00")]


def test_usage_rate_is_visits_on_credit_over_all_reported_visits(his, card, period, today):
    his.open_visit(card, his_visit_id="U1")
    his.open_visit(card, his_visit_id="U2", kind="inpatient")
    DailyVisitCount.objects.create(
        institution=his.institution, day=today, outpatient=30, inpatient=10
    )
    report = usage_rate(period)
    assert report.rows == [[today.isoformat(), 2, 40, Decimal("5.0")]]


def test_time_to_pay_median_90th_percentile_and_on_time_share(link, period, today):
    bill = link.bill
    # Paid an hour ago, ten hours after the visit ended (paid "now + 10 h" would fall into
    # tomorrow, outside the period, when the test runs after 14:00 China time).
    paid_at = timezone.now() - dt.timedelta(hours=1)
    Bill.objects.filter(pk=bill.pk).update(
        status=BillStatus.PAID,
        paid_amount=bill.self_pay,
        closed_at=paid_at - dt.timedelta(hours=10),
        due_at=paid_at + dt.timedelta(hours=38),
        paid_at=paid_at,
    )
    bill.refresh_from_db()
    report = time_to_pay(Period(timezone.localdate(bill.closed_at) - dt.timedelta(days=1), today))
    ((_month, bills, median, p90, on_time),) = report.rows
    assert (bills, median, p90, on_time) == (1, Decimal("10.0"), Decimal("10.0"), Decimal("100.0"))


def test_sms_delivery_share(period):
    for n, status in enumerate([SmsStatus.DELIVERED] * 3 + [SmsStatus.FAILED]):
        SmsMessage.objects.create(
            to=f"+86139000010{n:02d}",
            template="verification_code",
            body="x",
            dedup_key=f"s{n}",
            status=status,
        )
    (row,) = sms_delivery(period).rows
    assert row[1:] == [4, 3, 1, Decimal("75.0")]


def test_management_sees_the_reports_and_nothing_about_a_person(signed_patient):
    manager = StaffFactory(role=roles.MANAGEMENT)
    client = logged_in(manager)
    assert "/admin/billing/bill/reports/" in client.get("/admin/").content.decode()
    page = client.get("/admin/billing/bill/reports/")
    assert page.status_code == 200
    body = page.content.decode()
    for key in ("signups", "payments", "usage", "time_to_pay", "sms"):
        assert f'data-report="{key}"' in body and f'id="chart-{key}"' in body
    assert "chart.umd.min.js" in body
    assert client.get("/admin/accounts/patient/").status_code == 403
    assert client.get("/admin/billing/bill/").status_code == 403
    assert set(manager.get_all_permissions()) == {"billing.view_reports"}
    assert Group.objects.get(name=roles.MANAGEMENT).permissions.count() == 1


def test_the_reports_filter_and_download_as_csv(signed_patient, today):
    client = logged_in(StaffFactory(role=roles.FINANCE))
    query = f"start={(today - dt.timedelta(days=30)).isoformat()}&end={today.isoformat()}"
    csv = client.get(f"/admin/billing/bill/reports/?{query}&csv=signups")
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 2 and signed_patient.institution.name in lines[1]
    other = f"{query}&institution={signed_patient.institution.pk + 1000}"
    assert (
        client.get(f"/admin/billing/bill/reports/?{other}").status_code == 200
    )  # shown as an error
    backwards = f"start={today.isoformat()}&end={(today - dt.timedelta(days=1)).isoformat()}"
    assert client.get(f"/admin/billing/bill/reports/?{backwards}").status_code == 200
    assert client.get("/admin/billing/bill/reports/?start=nonsense&end=").status_code == 200
    for hostile in ("start=0001-01-01&end=0001-01-02", "start=9999-12-30&end=9999-12-31"):
        page = client.get(f"/admin/billing/bill/reports/?{hostile}")
        assert page.status_code == 200 and "errorlist" in page.content.decode(), hostile


def test_window_staff_see_no_reports(window_clerk):
    assert logged_in(window_clerk).get("/admin/billing/bill/reports/").status_code == 403


def record(day: dt.date) -> None:
    """The nightly task's run for ``day``, half an hour after its end."""
    with time_machine.travel(day_bounds(day)[1] + dt.timedelta(minutes=30)):
        figures_record(day)


def test_credit_outstanding_follows_the_credit_entries(link, period):
    from billing.ledger import credit_used_from_entries

    record(period.end)
    report = credit_in_use(period)
    outpatient = report.series[[s["name"] for s in report.series].index("Outpatient")]
    line = link.bill.credit_line
    assert outpatient["values"][-1] == credit_used_from_entries(line=line) == link.bill.self_pay
    assert report.labels[-1] == period.end.isoformat()  # the figures of the last recorded day
    assert report.rows[-1][1:3] == [period.end.isoformat(), 1]  # one outpatient visit


def test_outstanding_from_the_day_before_equals_the_entries_summed(link, window_clerk):
    from billing.models import WindowMethod
    from billing.payments.services import payment_take_at_window

    bill = link.bill
    first = timezone.localdate(bill.closed_at)
    record(first)
    with time_machine.travel(day_bounds(first)[1] + dt.timedelta(hours=10)):
        payment_take_at_window(
            bill=bill, amount=bill.self_pay, method=WindowMethod.CASH, actor=window_clerk
        )
    second = first + dt.timedelta(days=1)
    record(second)
    record(second)  # the nightly task run twice: the same figures

    def outstanding(day: dt.date) -> dict:
        return {
            (f.institution_id, f.key): f.amount
            for f in DailyFigure.objects.filter(day=day, measure=FigureMeasure.OUTSTANDING)
        }

    assert outstanding(first)[(bill.institution_id, "outpatient")] == bill.self_pay
    assert outstanding(second)[(bill.institution_id, "outpatient")] == Decimal("0.00")
    incremental = outstanding(second)
    DailyFigure.objects.filter(day=first).delete()  # no day before: every entry summed
    record(second)
    assert outstanding(second) == incremental
    assert DailyFigure.objects.filter(day=second).count() == len(
        figures_at(second)
    )  # nothing left of an earlier run


def test_a_day_is_recorded_only_once_it_has_ended(today):
    with pytest.raises(ValueError):
        figures_record(today)


def test_recovered_and_written_off_per_month(link, period, finance_officer):
    from billing.collections.cases import bill_write_off

    bill = link.bill
    with time_machine.travel(bill.due_at + dt.timedelta(days=1)):
        bill_write_off(bill=bill, actor=finance_officer, reason="无法联系")
    written_off_day = timezone.localdate(bill.due_at + dt.timedelta(days=1))
    record(written_off_day)
    report = recovered_and_written_off(Period(period.start, written_off_day))
    assert report.rows[-1][1:] == [Decimal("0.00"), bill.self_pay]


def test_overdue_at_each_months_end_by_bucket_follows_payments(link, window_clerk):
    from billing.models import WindowMethod
    from billing.payments.services import payment_take_at_window
    from billing.reports import overdue_by_bucket

    bill = link.bill
    due_day = timezone.localdate(bill.due_at)

    def at(days_after_due: int) -> list:
        last = due_day + dt.timedelta(days=days_after_due)
        record(last)
        return overdue_by_bucket(Period(last.replace(day=1), last)).rows

    assert at(0) == []  # due that day: not overdue yet
    assert at(3) == [[(due_day + dt.timedelta(days=3)).isoformat(), "1-7", 1, bill.self_pay]]
    assert at(10)[0][1:] == ["8-30", 1, bill.self_pay]
    with time_machine.travel(bill.due_at + dt.timedelta(days=5)):
        payment_take_at_window(
            bill=bill, amount=bill.self_pay, method=WindowMethod.CASH, actor=window_clerk
        )
    assert at(3)[0][1:] == ["1-7", 1, bill.self_pay]  # paid later: still owed then
    assert at(10) == []  # paid by then
