"""Window staff in the admin: taking a payment at the window, marking an invoice printed,
paying out a refund from the window queue; other roles get 403."""

from decimal import Decimal

import pytest

from billing.models import BillStatus, PaymentStatus, Refund, RefundStatus
from billing.payments.services import payment_take_at_window
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db


def test_window_staff_take_a_payment_in_the_admin(link, window_clerk, card):
    client = logged_in(window_clerk)
    url = f"/admin/billing/bill/{link.bill.pk}/window-payment/"
    page = client.get(url)
    assert page.status_code == 200 and "35.00" in page.content.decode()

    response = client.post(url, {"amount": "35.00", "method": "cash", "reference": ""})

    assert response.status_code == 302
    bill = link.bill
    bill.refresh_from_db()
    assert bill.status == BillStatus.PAID
    payment = bill.payments.get()
    assert (payment.channel, payment.method, payment.taken_by) == ("window", "cash", window_clerk)
    assert payment.status == PaymentStatus.SUCCEEDED


def test_bad_window_payment_input_changes_nothing(link, window_clerk):
    client = logged_in(window_clerk)
    url = f"/admin/billing/bill/{link.bill.pk}/window-payment/"
    for body in [{"amount": "-1", "method": "cash"}, {"amount": "10", "method": "gold"}, {}]:
        response = client.post(url, body)
        assert response.status_code == 200  # the form again, with the error
    assert not link.bill.payments.exists()


def test_only_window_staff_take_payments(link, collector, finance_officer):
    for user in (collector, finance_officer):
        url = f"/admin/billing/bill/{link.bill.pk}/window-payment/"
        assert logged_in(user).post(url, {"amount": "35.00", "method": "cash"}).status_code == 403
    assert not link.bill.payments.exists()


def test_marking_an_invoice_printed(link, window_clerk):
    payment_take_at_window(
        bill=link.bill, amount=Decimal("35.00"), method="cash", actor=window_clerk
    )
    invoice = link.bill.invoice
    client = logged_in(window_clerk)
    response = client.post(
        "/admin/billing/invoice/",
        {"action": "mark_printed", "_selected_action": [invoice.pk]},
    )
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.printed_at is not None and invoice.printed_by == window_clerk


def test_paying_out_a_refund_from_the_window_queue(link, window_clerk, collector):
    payment = payment_take_at_window(
        bill=link.bill, amount=Decimal("50.00"), method="cash", actor=window_clerk
    )
    refund = Refund.objects.get()  # 15.00 of change to hand back
    client = logged_in(window_clerk)
    queue = client.get("/admin/billing/refund/?status__exact=at_window").content.decode()
    assert refund.out_refund_no in queue
    url = f"/admin/billing/refund/{refund.pk}/pay-out/"
    assert logged_in(collector).post(url, {"method": "cash"}).status_code == 403

    response = client.post(url, {"method": "cash", "note": "handed back at window 3"})

    assert response.status_code == 302
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert (refund.status, refund.paid_out_by, refund.paid_out_note) == (
        RefundStatus.PAID_OUT,
        window_clerk,
        "handed back at window 3",
    )
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
    again = client.post(url, {"method": "cash"})
    assert again.status_code == 200 and refund.out_refund_no in again.content.decode()
