"""Settlement per institution (T+1): a day's payments by channel, less refunds and fees, for
each institution; paid out with a transfer reference; exported for the bank."""

import datetime as dt
import secrets
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import Payment as PaymentRow
from billing.models import (
    PaymentStatus,
    Refund,
    RefundStatus,
    SettlementStatement,
    SettlementStatus,
)
from billing.payments.selectors import day_bounds
from billing.payments.settlement import settlement_pay_out, settlement_statements_build
from creditcare.errors import DomainError
from tests.billing.test_api import settlement as insurance_settlement
from tests.conftest import logged_in
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 11, 23)
RATES = {"alipay": Decimal("0.006"), "wechat": Decimal("0.0038")}
cents = st.integers(min_value=1, max_value=2_000_000).map(lambda c: Decimal(c) / 100)


def fee(amount: Decimal, channel: str) -> Decimal:
    """The channel's fee on one transaction, rounded to the cent half up."""
    rate = RATES.get(channel, Decimal(0))
    return (amount * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.fixture
def bills(link, outsider_his, card):
    """A bill at each of two institutions."""
    visit = outsider_his.open_visit(card, his_visit_id="O1")
    outsider_his.charge(visit["id"], "L1", "10.00")
    outsider_his.post(f"visits/{visit['id']}/close/", insurance_settlement("10.00", "10.00"))
    from billing.models import Bill

    return [link.bill, Bill.objects.exclude(pk=link.bill_id).get()]


def record_payment(bill, channel: str, amount: Decimal, at: dt.datetime) -> PaymentRow:
    return PaymentRow.objects.create(
        bill=bill,
        channel=channel,
        out_trade_no=f"CC{secrets.token_hex(12)}",
        gateway_trade_no=secrets.token_hex(8),
        amount=amount,
        status=PaymentStatus.SUCCEEDED,
        succeeded_at=at,
    )


def record_refund(payment: PaymentRow, amount: Decimal, at: dt.datetime) -> Refund:
    return Refund.objects.create(
        payment=payment,
        out_refund_no=f"RF{secrets.token_hex(12)}",
        amount=amount,
        reason="test",
        actor="test",
        status=RefundStatus.SUCCEEDED,
        finished_at=at,
    )


day_of_money = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=1),  # which institution's bill
        st.sampled_from(["alipay", "wechat", "sandbox", "window"]),
        cents,
        st.integers(min_value=-3, max_value=27),  # hour of the day (China time); outside: not
        st.one_of(st.none(), st.integers(min_value=1, max_value=100)),  # % refunded, if any
    ),
    max_size=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(day=day_of_money)
def test_net_is_gross_less_refunds_less_fees_to_the_cent(bills, day, django_settings):
    django_settings.CHANNEL_FEE_RATES = RATES
    start, _end = day_bounds(DAY)
    expected: dict[tuple[int, str], dict[str, Decimal]] = {}
    with transaction.atomic():
        for which, channel, amount, hour, refunded_percent in day:
            at = start + dt.timedelta(hours=hour)
            payment = record_payment(bills[which], channel, amount, at)
            refund = (
                (amount * refunded_percent / 100).quantize(Decimal("0.01"))
                if refunded_percent
                else Decimal("0.00")
            )
            if refund > 0:
                record_refund(payment, refund, at)
            if channel == "window" or not 0 <= hour < 24:
                continue  # the window's money is the hospital's own; other days are not this
            totals = expected.setdefault(
                (bills[which].institution_id, channel),
                {"gross": Decimal("0.00"), "refunds": Decimal("0.00"), "fees": Decimal("0.00")},
            )
            totals["gross"] += amount
            totals["refunds"] += refund
            totals["fees"] += fee(amount, channel) - (fee(refund, channel) if refund else 0)

        settlement_statements_build(day=DAY)

        statements = {(s.institution_id, s.channel): s for s in SettlementStatement.objects.all()}
        assert statements.keys() == expected.keys()
        for key, statement in statements.items():
            want = expected[key]
            assert (statement.gross, statement.refunds, statement.fees) == (
                want["gross"],
                want["refunds"],
                want["fees"],
            )
            assert statement.net == statement.gross - statement.refunds - statement.fees
            assert statement.fee_rate == RATES.get(key[1], Decimal(0))
        transaction.set_rollback(True)  # each example starts from no money


@pytest.fixture
def django_settings(settings):
    return settings


def test_a_paid_out_statement_keeps_its_figures_and_needs_a_reference(bills, settings):
    settings.CHANNEL_FEE_RATES = RATES
    start, _end = day_bounds(DAY)
    payment = record_payment(bills[0], "alipay", Decimal("100.00"), start + dt.timedelta(hours=9))
    settlement_statements_build(day=DAY)
    statement = SettlementStatement.objects.get()
    assert (statement.gross, statement.fees, statement.net) == (
        Decimal("100.00"),
        Decimal("0.60"),
        Decimal("99.40"),
    )
    finance = StaffFactory(role="Finance")
    with pytest.raises(DomainError) as no_reference:
        settlement_pay_out(statement=statement, actor=finance, transfer_reference=" ")
    assert no_reference.value.code == "reference_required"

    settlement_pay_out(statement=statement, actor=finance, transfer_reference="BOC-20261124-7")
    record_refund(payment, Decimal("40.00"), start + dt.timedelta(hours=20))  # late, same day
    settlement_statements_build(day=DAY)

    statement.refresh_from_db()
    assert statement.status == SettlementStatus.PAID_OUT
    assert (statement.refunds, statement.net, statement.transfer_reference) == (
        Decimal("0.00"),
        Decimal("99.40"),
        "BOC-20261124-7",
    )


def test_finance_exports_statements_and_marks_one_paid_out(bills, settings):
    settings.CHANNEL_FEE_RATES = RATES
    start, _end = day_bounds(DAY)
    record_payment(bills[0], "alipay", Decimal("35.00"), start + dt.timedelta(hours=9))
    record_payment(bills[1], "wechat", Decimal("10.00"), start + dt.timedelta(hours=10))
    settlement_statements_build(day=DAY)
    client = logged_in(StaffFactory(role="Finance"))
    ids = list(SettlementStatement.objects.order_by("pk").values_list("pk", flat=True))
    changelist = "/admin/billing/settlementstatement/"

    csv = client.post(changelist, {"action": "export_csv", "_selected_action": ids})
    assert csv["Content-Type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert "34.79" in text and "9.96" in text  # 35.00 - 0.21; 10.00 - 0.04 (0.038 rounds up)

    xlsx = client.post(changelist, {"action": "export_excel", "_selected_action": ids})
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(xlsx.content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert len(values) == 3 and "34.79" in [str(v) for v in values[1] + values[2]]

    statement = SettlementStatement.objects.get(channel="alipay")
    url = f"/admin/billing/settlementstatement/{statement.pk}/pay-out/"
    assert client.post(url, {"transfer_reference": ""}).status_code == 200  # refused, shown
    assert client.post(url, {"transfer_reference": "BOC-1"}).status_code == 302
    statement.refresh_from_db()
    assert (statement.status, statement.transfer_reference) == (SettlementStatus.PAID_OUT, "BOC-1")


def test_window_staff_see_no_settlement(bills, window_clerk):
    assert logged_in(window_clerk).get("/admin/billing/settlementstatement/").status_code == 403


def test_the_morning_task_builds_yesterdays_statements(bills, settings):
    import time_machine

    from billing.tasks import build_settlement_statements

    settings.CHANNEL_FEE_RATES = RATES
    start, _end = day_bounds(DAY)
    record_payment(bills[0], "alipay", Decimal("35.00"), start + dt.timedelta(hours=9))
    with time_machine.travel(start + dt.timedelta(days=1, hours=7)):
        assert build_settlement_statements() == 1
        assert build_settlement_statements() == 1  # again: the same statement, rewritten
    statement = SettlementStatement.objects.get()
    assert (statement.day, statement.net) == (DAY, Decimal("34.79"))
