"""Long inpatient stays billed part-way: POST /api/v1/visits/{id}/interim/. The credit is
held and released exactly, the stay goes on, and the close settles only the rest."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import CreditLine
from billing.ledger import credit_used_from_entries
from billing.models import (
    Bill,
    BillStatus,
    CreditEntry,
    CreditEntryKind,
    EInvoice,
    Refund,
    Visit,
)
from billing.payments.services import payment_take_at_window
from creditcare.money import money_sum
from notifications.models import SmsMessage
from tests.billing.paying import sent_code
from tests.billing.test_api import assert_credit_consistent, settlement
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def inpatient(card) -> CreditLine:
    return CreditLine.objects.get(patient__citizen_card=card, pool="inpatient")


def interim(total, self_pay, his_settlement_id="ZJ1", **extra) -> dict:
    return {"his_settlement_id": his_settlement_id, **settlement(total, self_pay, **extra)}


def pay(bill: Bill) -> None:
    """The patient pays the whole bill at a window."""
    clerk = StaffFactory(institution=bill.institution)
    payment_take_at_window(bill=bill, amount=bill.amount_due, method="cash", actor=clerk)
    bill.refresh_from_db()
    assert bill.status == BillStatus.PAID


@pytest.fixture
def stay(his, card) -> dict:
    """An inpatient stay at its limit: 4,600.00 held of 5,000.00 (L1 3,000.00, L2 1,600.00)."""
    visit = his.open_visit(card, kind="inpatient", his_visit_id="ZY1")
    assert his.charge(visit["id"], "L1", "3000.00", category="bed").status_code == 201
    assert his.charge(visit["id"], "L2", "1600.00", category="drug").status_code == 201
    return visit


def test_an_interim_bill_holds_and_releases_credit_exactly(his, card, stay):
    line = inpatient(card)
    assert line.available == Decimal("400.00")
    assert his.charge(stay["id"], "L3", "800.00").status_code == 402  # the limit, as today

    response = his.post(f"visits/{stay['id']}/interim/", interim("4600.00", "1380.00"))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["visit"] == {
        "id": stay["id"],
        "his_visit_id": "ZY1",
        "kind": "inpatient",
        "status": "open",
        "total": "4600.00",
        "held": "0.00",
        "available": "3620.00",  # 5,000.00 - the interim bill's 1,380.00
    }
    bill = Bill.objects.get()
    assert body["bill"]["id"] == bill.pk
    assert (body["bill"]["interim"], body["bill"]["his_settlement_id"]) == (True, "ZJ1")
    assert (bill.self_pay, bill.status, bill.pool) == (Decimal("1380.00"), "unpaid", "inpatient")
    assert bill.due_at - bill.closed_at == dt.timedelta(days=7)
    # The hold of the billed charges went out and the bill came in, in one pair of entries.
    entries = CreditEntry.objects.filter(visit_id=stay["id"]).order_by("pk")
    settle, owed = list(entries)[-2:]
    assert (settle.kind, settle.amount) == (CreditEntryKind.SETTLE, Decimal("-4600.00"))
    assert (owed.kind, owed.amount, owed.bill_id) == (
        CreditEntryKind.BILL,
        Decimal("1380.00"),
        bill.pk,
    )
    assert_credit_consistent(card)

    # The stay goes on: the charge refused before now fits.
    assert his.charge(stay["id"], "L3", "800.00").status_code == 201
    line.refresh_from_db()
    assert (line.used, line.available) == (Decimal("2180.00"), Decimal("2820.00"))

    pay(bill)
    line.refresh_from_db()
    assert (line.used, line.available) == (Decimal("800.00"), Decimal("4200.00"))

    # The close settles only what the interim bill did not take.
    closed = his.post(f"visits/{stay['id']}/close/", settlement("800.00", "240.00"))
    assert closed.status_code == 200, closed.json()
    visit = closed.json()
    assert (visit["status"], visit["total"], visit["held"]) == ("closed", "5400.00", "0.00")
    assert visit["bill"]["self_pay"] == "240.00" and visit["bill"]["interim"] is False
    assert [b["id"] for b in visit["interim_bills"]] == [bill.pk]
    line.refresh_from_db()
    assert (line.used, line.available) == (Decimal("240.00"), Decimal("4760.00"))

    final = Bill.objects.get(interim=False)
    pay(final)
    line.refresh_from_db()
    assert (line.used, line.available) == (Decimal("0.00"), Decimal("5000.00"))
    assert line.used == credit_used_from_entries(line=line)
    assert_credit_consistent(card)
    # Each bill's e-invoice lists the charges that bill took.
    assert EInvoice.objects.get(invoice__bill=bill).items == [
        ["bed", "3000.00"],
        ["drug", "1600.00"],
    ]
    assert EInvoice.objects.get(invoice__bill=final).items == [["lab", "800.00"]]


def test_the_close_after_an_interim_bill_counts_only_the_charges_left(his, card, stay):
    his.post(f"visits/{stay['id']}/interim/", interim("4600.00", "1380.00"))
    his.charge(stay["id"], "L3", "100.00")
    before = CreditEntry.objects.count()

    response = his.post(f"visits/{stay['id']}/close/", settlement("4700.00", "1410.00"))

    assert response.status_code == 422
    assert response.json()["code"] == "total_mismatch"
    assert response.json()["details"]["charges_total"] == "100.00"
    assert CreditEntry.objects.count() == before
    assert Visit.objects.get().status == "open"


def test_a_close_with_every_charge_billed_part_way_is_a_zero_bill(his, card, stay):
    his.post(f"visits/{stay['id']}/interim/", interim("4600.00", "1380.00"))

    response = his.post(f"visits/{stay['id']}/close/", settlement("0.00", "0.00"))

    assert response.status_code == 200, response.json()
    assert response.json()["bill"]["status"] == "paid"
    assert inpatient(card).used == Decimal("1380.00")  # the interim bill, still owed
    # The SMS does not say "nothing to pay": the interim bill still is.
    ended = SmsMessage.objects.get(template="visit_ended")
    assert "医保支付" not in ended.body and "尚未支付的账单仍需支付" in ended.body


def test_the_visit_shows_which_interim_bill_took_each_charge(his, card, stay):
    billed = his.post(f"visits/{stay['id']}/interim/", interim("4600.00", "1380.00")).json()
    his.charge(stay["id"], "L3", "100.00")

    visit = his.get(f"visits/{stay['id']}/").json()

    bill_id = billed["bill"]["id"]
    assert [(c["his_line_id"], c["interim_bill_id"]) for c in visit["charges"]] == [
        ("L1", bill_id),
        ("L2", bill_id),
        ("L3", None),
    ]
    assert [b["id"] for b in visit["interim_bills"]] == [bill_id]
    assert (visit["bill"], visit["held"], visit["total"]) == (None, "100.00", "4700.00")
    # A charge posted again (a retry) answers with its bill too.
    again = his.charge(stay["id"], "L1", "3000.00", category="bed").json()
    assert again["charges"][0]["interim_bill_id"] == bill_id


def test_a_bill_is_not_settled_before_the_last_interim_bill(his, card, stay):
    his.post(
        f"visits/{stay['id']}/interim/",
        interim("4600.00", "1380.00", closed_at=timezone.now().isoformat()),
    )
    his.charge(stay["id"], "L3", "100.00")
    earlier = (timezone.now() - dt.timedelta(minutes=1)).isoformat()

    for path, body in [
        ("interim", interim("100.00", "30.00", "ZJ2", closed_at=earlier)),
        ("close", settlement("100.00", "30.00", closed_at=earlier)),
    ]:
        response = his.post(f"visits/{stay['id']}/{path}/", body)
        assert (response.status_code, response.json()["code"]) == (422, "invalid_closed_at")
    assert Bill.objects.count() == 1


def test_the_same_settlement_again_answers_the_same_bill(his, card, stay):
    first = his.post(f"visits/{stay['id']}/interim/", interim("4600.00", "1380.00"))
    entries = CreditEntry.objects.count()

    again = his.post(f"visits/{stay['id']}/interim/", interim("4600.00", "1380.00"))
    other = his.post(f"visits/{stay['id']}/interim/", interim("4600.00", "1000.00"))

    assert again.status_code == 200
    assert again.json()["bill"] == first.json()["bill"]
    assert other.status_code == 409
    assert other.json()["code"] == "his_settlement_id_conflict"
    assert other.json()["details"] == {"bill_id": first.json()["bill"]["id"]}
    assert Bill.objects.count() == 1 and CreditEntry.objects.count() == entries
    assert SmsMessage.objects.filter(template="interim_bill").count() == 1


@pytest.mark.parametrize(
    ("kind", "body", "status", "code"),
    [
        ("outpatient", interim("10.00", "3.00"), 422, "interim_not_inpatient"),
        ("inpatient", interim("10.00", "3.00", balance="x"), 400, "invalid_input"),
        ("inpatient", interim("10.00", "3.00", his_settlement_id="a/b"), 400, "invalid_input"),
        ("inpatient", interim("11.00", "3.00"), 422, "total_mismatch"),
        ("inpatient", interim("10.00", "3.00", fund="8.00"), 422, "settlement_mismatch"),
        (
            "inpatient",
            interim("10.00", "3.00", closed_at="2000-01-01T00:00:00+08:00"),
            422,
            "invalid_closed_at",
        ),
    ],
)
def test_a_refused_interim_changes_nothing(his, card, kind, body, status, code):
    visit = his.open_visit(card, kind=kind)
    his.charge(visit["id"], "L1", "10.00")
    before = (CreditEntry.objects.count(), SmsMessage.objects.count())

    response = his.post(f"visits/{visit['id']}/interim/", body)

    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert not Bill.objects.exists()
    assert (CreditEntry.objects.count(), SmsMessage.objects.count()) == before
    assert Visit.objects.get().held == Decimal("10.00")


def test_nothing_left_to_bill_and_a_closed_stay_are_refused(his, card, stay):
    his.post(f"visits/{stay['id']}/interim/", interim("4600.00", "1380.00"))

    nothing = his.post(f"visits/{stay['id']}/interim/", interim("0.00", "0.00", "ZJ2"))
    his.post(f"visits/{stay['id']}/close/", settlement("0.00", "0.00"))
    closed = his.post(f"visits/{stay['id']}/interim/", interim("0.00", "0.00", "ZJ3"))

    assert (nothing.status_code, nothing.json()["code"]) == (422, "nothing_to_bill")
    assert (closed.status_code, closed.json()["code"]) == (409, "visit_closed")
    assert Bill.objects.count() == 2


def test_another_institution_cannot_bill_the_stay(outsider_his, stay):
    response = outsider_his.post(f"visits/{stay['id']}/interim/", interim("4600.00", "1380.00"))
    assert (response.status_code, response.json()["code"]) == (404, "visit_not_found")
    assert not Bill.objects.exists()


def test_the_patient_gets_the_interim_bills_sms_and_pays_only_its_charges(his, card, stay, client):
    his.post(f"visits/{stay['id']}/interim/", interim("4600.00", "1380.00"))
    his.charge(stay["id"], "L3", "120.00", item_name="输液")
    bill = Bill.objects.get()

    sms = SmsMessage.objects.get(template="interim_bill")
    due = timezone.localtime(bill.due_at).strftime("%m-%d %H:%M")
    assert "1380.00" in sms.body and due in sms.body
    assert sms.body.endswith(f"/p/{bill.payment_link.token}")

    link = bill.payment_link
    client.post(f"/p/{link.token}/code/")
    client.post(f"/p/{link.token}/verify/", {"code": sent_code()})
    page = client.get(f"/p/{link.token}/bill/").content.decode()
    assert "data-interim" in page
    assert "3000.00" in page and "1600.00" in page
    assert "输液" not in page  # charged after the interim bill: the next bill's


def test_a_zero_interim_bill_is_paid_at_once_and_sends_no_sms(his, card, stay):
    response = his.post(f"visits/{stay['id']}/interim/", interim("4600.00", "0.00"))

    assert response.status_code == 201
    assert response.json()["bill"]["status"] == "paid"
    assert not SmsMessage.objects.filter(template="interim_bill").exists()
    assert inpatient(card).used == Decimal("0.00")


def test_a_charge_on_an_interim_bill_is_voided_only_once_it_is_paid(his, card, stay):
    his.post(f"visits/{stay['id']}/interim/", interim("4600.00", "1380.00"))
    his.charge(stay["id"], "L3", "100.00")
    bill = Bill.objects.get()

    refused = his.post(f"visits/{stay['id']}/charges/L2/void/", {"reason": "退药"})
    assert (refused.status_code, refused.json()["code"]) == (409, "bill_not_paid")
    assert refused.json()["details"] == {"bill_id": bill.pk}

    # A charge since the interim bill is still held: voiding it releases its hold.
    released = his.post(f"visits/{stay['id']}/charges/L3/void/", {"reason": "退药"})
    assert released.status_code == 200
    assert released.json()["visit"]["held"] == "0.00"

    pay(bill)
    voided = his.post(f"visits/{stay['id']}/charges/L2/void/", {"reason": "退药"})

    assert voided.status_code == 200, voided.json()
    refund = Refund.objects.get()
    assert (refund.payment.bill_id, refund.amount) == (bill.pk, Decimal("1380.00"))
    assert voided.json()["visit"]["total"] == "3000.00"
    assert inpatient(card).used == Decimal("0.00")
    assert_credit_consistent(card)


def test_held_is_recomputed_from_the_charges_on_no_bill(his, card, stay):
    his.post(f"visits/{stay['id']}/interim/", interim("4600.00", "1380.00"))
    his.charge(stay["id"], "L3", "70.00")
    his.charge(stay["id"], "L4", "30.00", self_pay_estimate="9.00")

    visit = Visit.objects.get()
    unbilled = visit.charges.filter(void__isnull=True, interim__isnull=True)
    assert visit.held == money_sum(unbilled, "self_pay_estimate") == Decimal("79.00")
    assert visit.total == money_sum(visit.charges.filter(void__isnull=True), "amount")
    line = inpatient(card)
    owed = money_sum(Bill.objects.filter(status="unpaid"), "self_pay")
    assert line.used == visit.held + owed == credit_used_from_entries(line=line)


def test_the_close_of_a_stay_billed_part_way_shows_only_the_days_since(his, card, stay, client):
    his.post(f"visits/{stay['id']}/interim/", interim("4600.00", "1380.00"))
    his.charge(stay["id"], "L3", "120.00", item_name="输液")
    his.post(f"visits/{stay['id']}/close/", settlement("120.00", "36.00"))
    link = Bill.objects.get(interim=False).payment_link

    client.post(f"/p/{link.token}/code/")
    client.post(f"/p/{link.token}/verify/", {"code": sent_code()})
    page = client.get(f"/p/{link.token}/bill/").content.decode()

    assert "data-after-interim" in page and "data-interim" not in page
    assert "输液" in page and "3000.00" not in page
