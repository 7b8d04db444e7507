"""Fixtures of the billing tests: a closed visit's payment link, a phone that passed the
code, a bill paid through the sandbox."""

import pytest

from billing.models import PaymentLink, PaymentStatus
from tests.billing.paying import press, sent_code, start
from tests.billing.test_api import settlement


@pytest.fixture
def link(his, card) -> PaymentLink:
    """A closed visit: 100.00, of which 35.00 self-pay (charges L1 80.00 lab, L2 20.00
    registration)."""
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "80.00", item_name="血常规")
    his.charge(visit["id"], "L2", "20.00", item_name="挂号费", category="registration")
    his.post(f"visits/{visit['id']}/close/", settlement("100.00", "35.00", account="15.00"))
    return PaymentLink.objects.get()


@pytest.fixture
def verified(client, link):
    client.post(f"/p/{link.token}/code/")
    client.post(f"/p/{link.token}/verify/", {"code": sent_code()})
    return client


@pytest.fixture
def paid(verified, link):
    payment = start(verified, link)
    press(verified, payment, "paid")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    return payment
