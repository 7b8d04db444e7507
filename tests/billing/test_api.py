"""The HIS API: every endpoint and its errors."""

from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from accounts import services as account_services
from accounts.models import CreditLine
from billing.ledger import credit_used_from_entries
from billing.models import Bill, Charge, CreditEntry, CreditEntryKind, Visit
from creditcare.money import money_sum
from notifications.backends import locmem
from notifications.models import SmsMessage
from tests.conftest import charge_body
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def outpatient(card) -> CreditLine:
    return CreditLine.objects.get(patient__citizen_card=card, pool="outpatient")


def assert_credit_consistent(card):
    for line in CreditLine.objects.filter(patient__citizen_card=card):
        assert line.used == credit_used_from_entries(line=line)
        assert line.available >= 0
    # What a bill says was paid is what its payment entries released.
    for bill in Bill.objects.filter(patient__citizen_card=card):
        released = CreditEntry.objects.filter(bill=bill, kind=CreditEntryKind.PAYMENT)
        assert bill.paid_amount == -money_sum(released, "amount")


# --- Authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "Api-Key", "Api-Key nope", "Bearer abc", "Api-Key abc.def", "Api-Key " + "x" * 300],
)
def test_missing_or_bad_key_gets_401(client, card, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/api/v1/eligibility/", {"citizen_card": card}, **extra)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert response["WWW-Authenticate"] == "Api-Key"


def test_revoked_key_gets_401(his, card):
    from accounts.models import InstitutionApiKey

    account_services.api_key_revoke(api_key=InstitutionApiKey.objects.get())
    assert his.get("eligibility/", {"citizen_card": card}).status_code == 401


def test_another_institutions_visit_is_not_found(his, outsider_his, card):
    visit = his.open_visit(card)
    for response in (
        outsider_his.get(f"visits/{visit['id']}/"),
        outsider_his.charge(visit["id"]),
        outsider_his.post(f"visits/{visit['id']}/charges/L1/void/", {"reason": "x"}),
        outsider_his.post(f"visits/{visit['id']}/close/", settlement("0.00", "0.00")),
    ):
        assert response.status_code == 404, response.json()
        assert response.json()["code"] == "visit_not_found"
    assert not Charge.objects.exists()


def test_another_institutions_bill_is_not_found(his, outsider_his, card):
    visit = his.open_visit(card)
    his.post(f"visits/{visit['id']}/close/", settlement("0.00", "0.00"))
    bill = Bill.objects.get()
    assert outsider_his.get(f"bills/{bill.pk}/").status_code == 404
    assert outsider_his.get("bills/").json()["results"] == []


# --- Eligibility ----------------------------------------------------------------------------


def test_eligibility_of_a_signed_patient(his, card):
    body = his.get("eligibility/", {"citizen_card": card}).json()
    assert body == {
        "eligible": True,
        "agreement_status": "active",
        "reason": None,
        "message": "",
        "pools": {
            "outpatient": {"limit": "300.00", "available": "300.00"},
            "inpatient": {"limit": "5000.00", "available": "5000.00"},
        },
    }


def test_eligibility_shows_credit_in_use(his, card):
    visit = his.open_visit(card)
    his.charge(visit["id"], amount="120.50")
    pools = his.get("eligibility/", {"citizen_card": card}).json()["pools"]
    assert pools["outpatient"] == {"limit": "300.00", "available": "179.50"}


@pytest.mark.parametrize(
    ("setup", "reason", "status"),
    [
        ("suspend", "agreement_suspended", "suspended"),
        ("terminate", "agreement_terminated", "terminated"),
    ],
)
def test_eligibility_refused_with_a_reason(
    his, signed_patient, window_clerk, setup, reason, status
):
    getattr(account_services, f"agreement_{setup}")(
        agreement=signed_patient, actor=window_clerk, reason="test"
    )
    body = his.get("eligibility/", {"citizen_card": signed_patient.patient.citizen_card}).json()
    assert (body["eligible"], body["reason"], body["agreement_status"]) == (False, reason, status)
    assert body["message"]


def test_eligibility_of_unknown_card_and_no_agreement(his):
    body = his.get("eligibility/", {"citizen_card": "NOPE"}).json()
    assert (body["eligible"], body["reason"], body["pools"]) == (False, "unknown_card", None)
    patient = PatientFactory()
    body = his.get("eligibility/", {"citizen_card": patient.citizen_card}).json()
    assert (body["eligible"], body["reason"]) == (False, "no_agreement")


def test_eligibility_needs_a_card(his):
    response = his.get("eligibility/")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert "citizen_card" in response.json()["details"]["fields"]


# --- Visits ---------------------------------------------------------------------------------


def test_open_visit(his, card):
    response = his.post(
        "visits/",
        {
            "citizen_card": card.lower(),
            "kind": "outpatient",
            "his_visit_id": "MZ2026001",
            "department": "内科",
            "doctor": "王医生",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["his_visit_id"] == "MZ2026001"
    assert body["citizen_card"] == card
    assert (body["status"], body["total"], body["held"], body["available"]) == (
        "open",
        "0.00",
        "0.00",
        "300.00",
    )
    assert body["charges"] == [] and body["bill"] is None
    sms = SmsMessage.objects.get()
    assert sms.dedup_key == f"visit-opened:{body['id']}"
    assert sms.to == str(Visit.objects.get().patient.phone)


def test_visit_started_sms_is_sent_after_commit(his, card, django_capture_on_commit_callbacks):
    locmem.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        visit = his.open_visit(card)
    assert locmem.outbox == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    sms = SmsMessage.objects.get(dedup_key=f"visit-opened:{visit['id']}")
    assert (sms.status, sms.attempts) == ("sent", 1)
    assert [m["body"] for m in locmem.outbox] == [sms.body]
    assert "第一人民医院" in sms.body


def test_open_same_his_visit_id_again_returns_the_visit(his, card):
    first = his.post("visits/", {"citizen_card": card, "kind": "outpatient", "his_visit_id": "A"})
    again = his.post("visits/", {"citizen_card": card, "kind": "outpatient", "his_visit_id": "A"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Visit.objects.count() == 1 and SmsMessage.objects.count() == 1


def test_his_visit_id_reused_for_another_patient_is_a_conflict(his, card, hospital, window_clerk):
    other = PatientFactory()
    account_services.agreement_sign(patient=other, institution=hospital, actor=window_clerk)
    his.open_visit(card, his_visit_id="A")
    response = his.post(
        "visits/", {"citizen_card": other.citizen_card, "kind": "outpatient", "his_visit_id": "A"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "his_visit_id_conflict"


def test_his_visit_ids_are_per_institution(his, outsider_his, card):
    assert (
        his.open_visit(card, his_visit_id="A")["id"]
        != outsider_his.open_visit(card, his_visit_id="A")["id"]
    )


@pytest.mark.parametrize(
    ("setup", "code"),
    [("suspend", "agreement_suspended"), ("terminate", "agreement_terminated")],
)
def test_open_visit_refused_when_agreement_not_active(
    his, signed_patient, window_clerk, setup, code
):
    getattr(account_services, f"agreement_{setup}")(
        agreement=signed_patient, actor=window_clerk, reason="test"
    )
    response = his.post(
        "visits/",
        {
            "citizen_card": signed_patient.patient.citizen_card,
            "kind": "outpatient",
            "his_visit_id": "X",
        },
    )
    assert response.status_code == 422
    assert response.json()["code"] == code
    assert not Visit.objects.exists()


def test_open_visit_refused_for_unknown_card_no_or_pending_agreement(his, hospital):
    body = {"kind": "outpatient", "his_visit_id": "X"}
    assert his.post("visits/", {**body, "citizen_card": "NOPE"}).json()["code"] == "unknown_card"
    unsigned = PatientFactory()
    response = his.post("visits/", {**body, "citizen_card": unsigned.citizen_card})
    assert (response.status_code, response.json()["code"]) == (422, "no_agreement")
    account_services.agreement_open(patient=unsigned, institution=hospital, channel="online")
    response = his.post("visits/", {**body, "citizen_card": unsigned.citizen_card})
    assert response.json()["code"] == "agreement_pending"
    assert not Visit.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"citizen_card": "X", "kind": "dental", "his_visit_id": "1"},
        {"citizen_card": "X", "kind": "outpatient"},
        {"citizen_card": 12, "kind": "outpatient", "his_visit_id": ["a"]},
        {"citizen_card": "X" * 33, "kind": "outpatient", "his_visit_id": "1"},
        {"citizen_card": "X", "kind": "outpatient", "his_visit_id": "1", "started_at": "yesterday"},
        {"citizen_card": "X\x00", "kind": "outpatient", "his_visit_id": "1"},
        {"citizen_card": " ", "kind": "outpatient", "his_visit_id": "1"},
        {"citizen_card": "X", "kind": "outpatient", "his_visit_id": "a/b"},
        [],
        "text",
    ],
)
def test_open_visit_bad_input_is_400(his, body):
    response = his.post("visits/", body)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid_input"
    assert not Visit.objects.exists()


def test_read_visit_with_its_running_bill(his, card):
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "20.00")
    his.charge(visit["id"], "L2", "30.00", self_pay_estimate="6.00")
    his.post(f"visits/{visit['id']}/charges/L1/void/", {"reason": "Wrong patient"})

    body = his.get(f"visits/{visit['id']}/").json()

    assert [(c["his_line_id"], c["status"]) for c in body["charges"]] == [
        ("L1", "voided"),
        ("L2", "live"),
    ]
    assert body["charges"][0]["void_reason"] == "Wrong patient"
    assert (body["total"], body["held"], body["available"]) == ("30.00", "6.00", "294.00")


def test_unknown_visit_and_url(his):
    assert his.get("visits/999999/").json()["code"] == "visit_not_found"
    response = his.get("visits/99999999999999999999999/")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert his.get("nothing-here/").json()["code"] == "not_found"


# --- Charges --------------------------------------------------------------------------------


def test_charge_is_held_against_the_pool(his, card):
    visit = his.open_visit(card)
    response = his.charge(visit["id"], "L1", "45.60")
    assert response.status_code == 201
    totals = response.json()["visit"]
    assert (totals["held"], totals["available"]) == ("45.60", "254.40")
    assert [c["his_line_id"] for c in response.json()["charges"]] == ["L1"]
    line = outpatient(card)
    assert line.used == Decimal("45.60")
    entry = CreditEntry.objects.get()
    assert (entry.kind, entry.amount, entry.actor) == ("hold", Decimal("45.60"), entry.actor)
    assert entry.actor.startswith("api-key:")


def test_self_pay_estimate_is_held_instead_of_the_amount(his, card):
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "200.00", self_pay_estimate="40.00")
    assert outpatient(card).used == Decimal("40.00")


def test_charge_list_is_all_or_nothing(his, card):
    visit = his.open_visit(card)
    body = [charge_body("L1", "100.00"), charge_body("L2", "150.00"), charge_body("L3", "60.00")]
    response = his.post(f"visits/{visit['id']}/charges/", body)
    assert response.status_code == 402
    assert response.json() == {
        "code": "credit_limit_exceeded",
        "message": response.json()["message"],
        "available": "300.00",
        "requested": "310.00",
        "details": {"available": "300.00", "requested": "310.00"},
    }
    assert not Charge.objects.exists()
    assert outpatient(card).used == 0

    response = his.post(f"visits/{visit['id']}/charges/", body[:2])
    assert response.status_code == 201
    assert len(response.json()["charges"]) == 2


def test_charge_exactly_to_the_limit_then_one_cent_more(his, card):
    visit = his.open_visit(card)
    assert his.charge(visit["id"], "L1", "300.00").status_code == 201
    response = his.charge(visit["id"], "L2", "0.01")
    assert response.status_code == 402
    assert response.json()["details"] == {"available": "0.00", "requested": "0.01"}


def test_inpatient_pool_is_separate(his, card):
    stay = his.open_visit(card, kind="inpatient", his_visit_id="ZY1")
    assert his.charge(stay["id"], "L1", "4000.00").status_code == 201
    assert outpatient(card).used == 0


def test_same_line_again_is_a_noop_and_different_content_a_conflict(his, card):
    visit = his.open_visit(card)
    assert his.charge(visit["id"], "L1", "10.00").status_code == 201
    again = his.charge(visit["id"], "L1", "10.00")
    assert again.status_code == 200
    assert Charge.objects.count() == 1 and outpatient(card).used == Decimal("10.00")
    conflict = his.charge(visit["id"], "L1", "11.00")
    assert (conflict.status_code, conflict.json()["code"]) == (409, "his_line_id_conflict")


def test_duplicate_line_in_one_request(his, card):
    visit = his.open_visit(card)
    response = his.post(f"visits/{visit['id']}/charges/", [charge_body("L1"), charge_body("L1")])
    assert (response.status_code, response.json()["code"]) == (422, "duplicate_his_line_id")


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "-5.00", "unit_price": "-5.00"},
        {"amount": "0.00", "unit_price": "0.00"},
        {"amount": "1.234", "unit_price": "1.234"},
        {"amount": "99999999999.00", "unit_price": "99999999999.00"},
        {"amount": "NaN"},
        {"amount": "Infinity"},
        {"amount": True},
        {"amount": 10.0, "unit_price": 10.0},  # money is a string: a float loses cents
        {"amount": "", "unit_price": ""},
        {"amount": "+10.00", "unit_price": "+10.00"},
        {"amount": "1e1", "unit_price": "1e1"},
        {"amount": "1000000.01", "unit_price": "1000000.01"},
        {"quantity": "0"},
        {"quantity": "-1"},
        {"quantity": 1},
        {"self_pay_estimate": "-1.00"},
        {"item_code": 12},
        {"his_line_id": ""},
        {"his_line_id": "x" * 65},
        {"item_name": None},
    ],
)
def test_bad_charge_is_400_and_changes_nothing(his, card, change):
    visit = his.open_visit(card)
    response = his.post(f"visits/{visit['id']}/charges/", {**charge_body("L1", "10.00"), **change})
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid_input"
    assert not Charge.objects.exists()
    assert outpatient(card).used == 0


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount": "12.00"}, "amount_mismatch"),
        ({"self_pay_estimate": "11.00"}, "self_pay_estimate_exceeds_amount"),
    ],
)
def test_a_charge_whose_fields_disagree_is_422_and_changes_nothing(his, card, change, code):
    """Well formed by the schema, but refused by a rule across its fields."""
    visit = his.open_visit(card)
    response = his.post(f"visits/{visit['id']}/charges/", {**charge_body("L1", "10.00"), **change})
    assert (response.status_code, response.json()["code"]) == (422, code)
    assert response.json()["details"]["his_line_id"] == "L1"
    assert not Charge.objects.exists()
    assert outpatient(card).used == 0


def test_money_written_plainly_and_text_trimmed_as_before(his, card):
    visit = his.open_visit(card)
    body = charge_body(" L1 ", "10", quantity="1.0", unit_price="10.0000", item_name=" 血常规 ")
    response = his.post(f"visits/{visit['id']}/charges/", body)
    assert response.status_code == 201, response.json()
    charge = Charge.objects.get()
    assert (charge.his_line_id, charge.item_name, charge.amount) == ("L1", "血常规", Decimal("10"))


def test_missing_fields_and_wrong_shapes(his, card):
    visit = his.open_visit(card)
    for body in ({}, [], "x", 5, [charge_body("L1"), "x"]):
        response = his.post(f"visits/{visit['id']}/charges/", body)
        assert response.status_code == 400, body
    assert not Charge.objects.exists()


def test_too_many_charges_in_one_request(his, card, settings):
    visit = his.open_visit(card)
    body = [charge_body(f"L{i}", "0.01") for i in range(501)]
    response = his.post(f"visits/{visit['id']}/charges/", body)
    assert response.status_code == 400
    assert not Charge.objects.exists()


def test_oversized_body_is_413(his, card, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    visit = his.open_visit(card)
    body = [charge_body(f"L{i}", "0.01", item_name="x" * 150) for i in range(20)]
    response = his.post(f"visits/{visit['id']}/charges/", body)
    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")
    assert not Charge.objects.exists()


def test_malformed_json_and_wrong_media_type(his, card):
    visit = his.open_visit(card)
    url = f"/api/v1/visits/{visit['id']}/charges/"
    response = his.client.post(url, "{not json", content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (400, "malformed_json")
    response = his.client.post(url, "a=1", content_type="application/x-www-form-urlencoded")
    assert (response.status_code, response.json()["code"]) == (415, "unsupported_media_type")
    response = his.client.put(url, {}, format="json")
    assert (response.status_code, response.json()["code"]) == (405, "method_not_allowed")


def test_a_quantity_price_pair_to_the_cent(his, card):
    visit = his.open_visit(card)
    body = charge_body("L1", "0.98", quantity="30", unit_price="0.0325")  # 0.975 -> 0.98
    assert his.post(f"visits/{visit['id']}/charges/", body).status_code == 201


# --- Voids ----------------------------------------------------------------------------------


def test_void_releases_the_hold_and_twice_is_the_same(his, card):
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "80.00")
    first = his.post(f"visits/{visit['id']}/charges/L1/void/", {"reason": "Refused by patient"})
    again = his.post(f"visits/{visit['id']}/charges/L1/void/", {"reason": "Refused by patient"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert outpatient(card).used == 0
    assert CreditEntry.objects.filter(kind="release").count() == 1
    assert_credit_consistent(card)


def test_void_errors(his, card):
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "80.00")
    response = his.post(f"visits/{visit['id']}/charges/NOPE/void/", {"reason": "x"})
    assert (response.status_code, response.json()["code"]) == (404, "charge_not_found")
    response = his.post(f"visits/{visit['id']}/charges/L1/void/", {})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_input")
    assert outpatient(card).used == Decimal("80.00")


# --- Close ----------------------------------------------------------------------------------


def settlement(total, self_pay, fund=None, account="0.00", balance="1200.00", **extra):
    fund = fund if fund is not None else str(Decimal(total) - Decimal(self_pay) - Decimal(account))
    return {
        "total": total,
        "insurance_fund": fund,
        "personal_account": account,
        "self_pay": self_pay,
        "insurance_account_balance": balance,
        **extra,
    }


@time_machine.travel("2026-11-23 10:00:00+08:00", tick=False)
def test_close_turns_the_hold_into_a_bill(his, card):
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "100.00")
    his.charge(visit["id"], "L2", "50.00")
    response = his.post(
        f"visits/{visit['id']}/close/", settlement("150.00", "45.00", account="20.00")
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["held"], body["available"]) == ("closed", "0.00", "255.00")
    bill = body["bill"]
    assert (bill["status"], bill["self_pay"], bill["amount_due"]) == ("unpaid", "45.00", "45.00")
    assert (bill["insurance_fund"], bill["personal_account"]) == ("85.00", "20.00")
    assert bill["due_at"] == "2026-11-25T10:00:00+08:00"  # 48 hours for outpatient
    assert outpatient(card).used == Decimal("45.00")
    ended = SmsMessage.objects.get(dedup_key=f"visit-closed:{visit['id']}")
    assert "45.00" in ended.body and "11-25 10:00" in ended.body
    assert_credit_consistent(card)


@time_machine.travel("2026-11-23 10:00:00+08:00", tick=False)
def test_inpatient_bill_is_due_in_7_days(his, card):
    stay = his.open_visit(card, kind="inpatient", his_visit_id="ZY1")
    his.charge(stay["id"], "L1", "3000.00")
    response = his.post(f"visits/{stay['id']}/close/", settlement("3000.00", "900.00"))
    bill = response.json()["bill"]
    assert bill["due_at"] == "2026-11-30T10:00:00+08:00"


def test_zero_self_pay_closes_as_paid(his, card):
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "60.00")
    bill = his.post(f"visits/{visit['id']}/close/", settlement("60.00", "0.00")).json()["bill"]
    assert (bill["status"], bill["amount_due"]) == ("paid", "0.00")
    assert bill["paid_at"] is not None
    assert outpatient(card).used == 0


@pytest.mark.parametrize(
    ("body", "code", "difference"),
    [
        (settlement("90.00", "10.00"), "total_mismatch", "-10.00"),
        (settlement("100.00", "10.00", fund="80.00"), "settlement_mismatch", "10.00"),
    ],
)
def test_close_amount_checks(his, card, body, code, difference):
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "100.00")
    response = his.post(f"visits/{visit['id']}/close/", body)
    assert (response.status_code, response.json()["code"]) == (422, code)
    assert response.json()["details"]["difference"] == difference
    assert not Bill.objects.exists()
    assert Visit.objects.get().status == "open"
    assert outpatient(card).used == Decimal("100.00")


def test_close_counts_only_live_charges(his, card):
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "100.00")
    his.charge(visit["id"], "L2", "40.00")
    his.post(f"visits/{visit['id']}/charges/L2/void/", {"reason": "cancelled"})
    response = his.post(f"visits/{visit['id']}/close/", settlement("100.00", "30.00"))
    assert response.status_code == 200


def test_closed_visit_refuses_changes_but_same_close_is_a_replay(his, card):
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "100.00")
    body = settlement("100.00", "30.00")
    first = his.post(f"visits/{visit['id']}/close/", body)
    assert his.post(f"visits/{visit['id']}/close/", body).json() == first.json()
    for response in (
        his.charge(visit["id"], "L2", "1.00"),
        his.post(f"visits/{visit['id']}/charges/L1/void/", {"reason": "late"}),
        his.post(f"visits/{visit['id']}/close/", settlement("100.00", "20.00")),
    ):
        assert (response.status_code, response.json()["code"]) == (409, "visit_closed")
    assert Bill.objects.count() == 1
    assert outpatient(card).used == Decimal("30.00")


def test_close_with_bad_input(his, card):
    visit = his.open_visit(card)
    for body in (
        {},
        settlement("-1.00", "0.00"),
        settlement("1.001", "0.00"),
        settlement(0, "0.00"),
    ):
        response = his.post(f"visits/{visit['id']}/close/", body)
        assert response.status_code == 400, body
    for closed_at in ("2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z", "9999-12-31T23:00:00-05:00"):
        response = his.post(
            f"visits/{visit['id']}/close/", settlement("0.00", "0.00", closed_at=closed_at)
        )
        assert (response.status_code, response.json()["code"]) == (422, "invalid_closed_at")
    assert not Bill.objects.exists()


def test_close_refused_when_the_bill_would_exceed_credit(his, card):
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "200.00", self_pay_estimate="10.00")
    other = his.open_visit(card, his_visit_id="V2")
    his.charge(other["id"], "L1", "250.00")
    # Available after releasing this visit's 10.00 hold: 300 - 250 = 50.
    response = his.post(f"visits/{visit['id']}/close/", settlement("200.00", "60.00"))
    assert response.status_code == 402
    assert response.json()["details"] == {"available": "50.00", "requested": "60.00"}
    assert Visit.objects.get(pk=visit["id"]).status == "open"


# --- Bills ----------------------------------------------------------------------------------


def test_bills_read_and_filtered(his, card, hospital, window_clerk):
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "50.00")
    his.post(f"visits/{visit['id']}/close/", settlement("50.00", "15.00"))
    other = PatientFactory()
    account_services.agreement_sign(patient=other, institution=hospital, actor=window_clerk)
    visit2 = his.open_visit(other.citizen_card, his_visit_id="V2")
    his.post(f"visits/{visit2['id']}/close/", settlement("0.00", "0.00"))

    listing = his.get("bills/", {"citizen_card": card}).json()
    assert listing["count"] == 1
    (bill,) = listing["results"]
    assert (bill["citizen_card"], bill["self_pay"], bill["his_visit_id"]) == (card, "15.00", "V1")
    assert his.get(f"bills/{bill['id']}/").json() == bill
    assert his.get("bills/", {"status": "paid"}).json()["count"] == 1
    assert his.get("bills/").json()["count"] == 2
    response = his.get("bills/", {"status": "lost"})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_input")
    assert his.get("bills/999999/").json()["code"] == "bill_not_found"


def test_the_database_refuses_to_rewrite_records(his, card):
    from django.db import DatabaseError, transaction

    from accounts.models import AgreementEvent, CreditLimitChange

    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "10.00")
    for records in (
        CreditEntry.objects.all(),
        Charge.objects.all(),
        AgreementEvent.objects.all(),
        CreditLimitChange.objects.all(),
    ):
        assert records.exists()
        with pytest.raises(DatabaseError), transaction.atomic():
            records.update(created_at=timezone.now())
        with pytest.raises(DatabaseError), transaction.atomic():
            records.delete()
    assert CreditEntry.objects.get().amount == Decimal("10.00")


# --- Odd input never reaches a 500 -------------------------------------------------------------


def test_odd_urls_headers_and_bodies_get_clear_4xx(his, card, client):
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "10.00")
    assert his.post(f"visits/{visit['id']}/charges/a%00b/void/", {"reason": "x"}).status_code == 404
    nested = "[" * 20000 + "]" * 20000
    response = his.client.post(
        f"/api/v1/visits/{visit['id']}/charges/", nested, content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "malformed_json")
    for started_at in (
        "0001-01-01T00:00:00",
        "0001-01-01T05:00:00Z",
        "0001-01-01T00:00:00+03:04",  # before the calendar's start in UTC
        "1999-12-31T23:00:00Z",
        "2999-01-01T00:00:00Z",
    ):
        response = his.post(
            "visits/",
            {
                "citizen_card": card,
                "kind": "outpatient",
                "his_visit_id": "T",
                "started_at": started_at,
            },
        )
        assert (response.status_code, response.json()["code"]) == (422, "invalid_started_at")
    response = his.post(f"visits/{visit['id']}/charges/", charge_body("2024/001"))
    assert (response.status_code, response.json()["code"]) == (400, "invalid_input")
    response = client.get(
        "/api/v1/eligibility/", {"citizen_card": card}, HTTP_AUTHORIZATION="Api-Key ab\x00.cd"
    )
    assert response.status_code == 401
    assert client.options("/api/v1/docs/").status_code == 405
    assert outpatient(card).used == Decimal("10.00")


def test_a_visit_total_has_a_ceiling(his, card):
    visit = his.open_visit(card)
    lines = [charge_body(f"L{n}", "1000000.00", self_pay_estimate="0.00") for n in range(101)]
    response = his.post(f"visits/{visit['id']}/charges/", lines)
    assert (response.status_code, response.json()["code"]) == (422, "visit_total_too_large")
    assert not Charge.objects.exists()


def test_a_lowered_limit_never_traps_a_visit(his, card, credit_officer):
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "200.00")
    account_services.credit_limit_change(
        credit_line=outpatient(card),
        new_limit=Decimal("100.00"),
        reason="Overdue elsewhere",
        source="staff",
        actor=credit_officer,
    )
    # Nothing new fits, but a line held at 0.00 is not a credit request.
    assert his.charge(visit["id"], "L2", "5.00").status_code == 402
    assert his.charge(visit["id"], "L3", "5.00", self_pay_estimate="0.00").status_code == 201
    # The bill is covered by what the visit held: closing works and releases the rest.
    response = his.post(f"visits/{visit['id']}/close/", settlement("205.00", "150.00"))
    assert response.status_code == 200, response.json()
    assert outpatient(card).used == Decimal("150.00")
    assert_credit_consistent_allowing_overdraft(card)


def assert_credit_consistent_allowing_overdraft(card):
    for line in CreditLine.objects.filter(patient__citizen_card=card):
        assert line.used == credit_used_from_entries(line=line)


def test_a_charge_category_is_one_of_the_documented_list(his, card):
    """Issue 13: a charge's category took any text."""
    visit = his.open_visit(card)

    refused = his.charge(visit["id"], "L1", "10.00", category="snacks")
    taken = his.charge(visit["id"], "L1", "10.00", category="imaging")

    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_input")
    assert "category" in refused.json()["details"]["fields"]
    assert taken.status_code == 201 and Charge.objects.get().category == "imaging"


def test_an_empty_status_filter_is_refused(his, card):
    """Issue 13: `?status=` was taken for no filter, which the schema does not say."""
    refused = his.get("bills/", {"status": ""})
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_input")
    assert his.get("bills/").status_code == 200
    assert his.get("bills/", {"status": "paid"}).status_code == 200
