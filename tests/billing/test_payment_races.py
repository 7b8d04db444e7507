"""Two payments for one bill land at the same moment (PostgreSQL, real threads)."""

from decimal import Decimal

import pytest

from accounts import services as account_services
from billing.ledger import credit_used_from_entries
from billing.models import BillStatus, CreditEntry, PaymentLink, PaymentStatus, RefundStatus
from billing.payments.gateways.sandbox import SandboxGateway
from billing.payments.services import payment_notified, payment_start, payment_take_at_window
from billing.visits import services
from tests.factories import InstitutionFactory, PatientFactory, StaffFactory
from tests.threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def closed_visit_link() -> PaymentLink:
    """A bill of 30.00 self-pay, through the services (no test transaction to hide locks)."""
    hospital = InstitutionFactory()
    patient = PatientFactory()
    account_services.agreement_sign(
        patient=patient, institution=hospital, actor=StaffFactory(institution=hospital)
    )
    visit, _ = services.visit_open(
        institution=hospital,
        api_key=None,
        citizen_card=patient.citizen_card,
        kind="outpatient",
        his_visit_id="RACE",
    )
    one = Decimal("1")
    services.charges_post(
        visit_id=visit.pk,
        institution=hospital,
        api_key=None,
        lines=[
            services.ChargeLine(
                "1", "A", "x", "lab", one, Decimal("50"), Decimal("50.00"), Decimal("50.00")
            )
        ],
    )
    services.visit_close(
        visit_id=visit.pk,
        institution=hospital,
        api_key=None,
        settlement=services.Settlement(
            Decimal("50.00"), Decimal("20.00"), Decimal("0.00"), Decimal("30.00"), Decimal("0.00")
        ),
    )
    return PaymentLink.objects.get()


def test_two_successful_payments_at_once_pay_the_bill_once():
    link = closed_visit_link()
    payments = [payment_start(link=link, channel="sandbox")[0] for _ in range(2)]
    gateway = SandboxGateway()
    notes = [gateway.parse_fields(gateway.checkout(p, "PAID")) for p in payments]

    run_together(*[lambda n=n: payment_notified(channel="sandbox", notification=n) for n in notes])

    for payment in payments:
        payment.refresh_from_db()
    payments.sort(key=lambda p: p.duplicate)
    assert [p.duplicate for p in payments] == [False, True]
    # The one that paid the bill stands; the other was given back through the channel.
    assert [p.status for p in payments] == [PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED]
    assert payments[1].refunds.get().status == RefundStatus.SUCCEEDED
    bill = link.bill
    bill.refresh_from_db()
    assert bill.status == BillStatus.PAID
    assert CreditEntry.objects.filter(kind="payment").count() == 1
    line = bill.credit_line
    line.refresh_from_db()
    assert line.used == 0


def test_an_online_payment_and_a_window_payment_at_once():
    link = closed_visit_link()
    online = payment_start(link=link, channel="sandbox")[0]
    gateway = SandboxGateway()
    note = gateway.parse_fields(gateway.checkout(online, "PAID"))
    clerk = StaffFactory(institution=link.bill.institution)

    run_together(
        lambda: payment_notified(channel="sandbox", notification=note),
        lambda: payment_take_at_window(
            bill=link.bill, amount=Decimal("30.00"), method="cash", actor=clerk
        ),
    )

    bill = link.bill
    bill.refresh_from_db()
    assert bill.status == BillStatus.PAID and bill.paid_amount == Decimal("30.00")
    payments = list(bill.payments.order_by("pk"))
    assert len(payments) == 2
    winner = [p for p in payments if not p.duplicate]
    loser = [p for p in payments if p.duplicate]
    assert len(winner) == 1 and len(loser) == 1
    # The other one is given back: online through the channel, cash at the window.
    refund = loser[0].refunds.get()
    assert refund.amount == Decimal("30.00")
    if loser[0].channel == "sandbox":
        assert refund.status == RefundStatus.SUCCEEDED
        assert loser[0].status == PaymentStatus.REFUNDED
    else:
        assert refund.status == RefundStatus.AT_WINDOW
    assert CreditEntry.objects.filter(kind="payment").count() == 1
    line = bill.credit_line
    line.refresh_from_db()
    assert line.used == 0 and line.available == line.limit
    assert line.used == credit_used_from_entries(line=line)
