"""Races on PostgreSQL with real threads: the credit line lock keeps every yuan exact."""

import random
from decimal import Decimal

import pytest

from accounts import services as account_services
from accounts.models import CreditLine
from billing.ledger import credit_used_from_entries
from billing.models import Charge, ChargeVoid, CreditEntry, IdempotencyRecord
from tests.conftest import His, charge_body
from tests.factories import InstitutionFactory, PatientFactory, StaffFactory
from tests.threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setup():
    hospital = InstitutionFactory()
    clerk = StaffFactory(institution=hospital)
    patient = PatientFactory()
    account_services.agreement_sign(patient=patient, institution=hospital, actor=clerk)
    _api_key, key = account_services.api_key_create(institution=hospital, name="HIS")
    return hospital, key, patient


def his_for(hospital, key) -> His:
    return His(hospital, key)


def test_50_threads_charging_one_pool_never_exceed_the_limit(setup):
    hospital, key, patient = setup
    visit = his_for(hospital, key).open_visit(patient.citizen_card)

    def post(n):
        return lambda: his_for(hospital, key).post(
            f"visits/{visit['id']}/charges/", charge_body(f"L{n}", "13.00"), key=f"k{n}"
        )

    responses = run_together(*[post(n) for n in range(50)])

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 402}, statuses
    accepted = statuses.count(201)
    assert accepted == 23  # 23 x 13.00 = 299.00 <= 300.00 < 24 x 13.00
    assert all(
        r.json()["code"] == "credit_limit_exceeded" for r in responses if r.status_code == 402
    )
    line = CreditLine.objects.get(patient=patient, pool="outpatient")
    held = sum(c.self_pay_estimate for c in Charge.objects.all())
    assert held == line.used == Decimal("299.00") <= line.limit
    assert held + line.available == line.limit
    assert line.used == credit_used_from_entries(line=line)


def test_charges_and_voids_racing_keep_the_books_right(setup):
    hospital, key, patient = setup
    his = his_for(hospital, key)
    visit = his.open_visit(patient.citizen_card)
    for n in range(20):
        assert his.charge(visit["id"], f"old{n}", "10.00").status_code == 201  # 200 held

    calls = [
        (lambda n=n: his_for(hospital, key).charge(visit["id"], f"new{n}", "10.00"))
        for n in range(20)
    ] + [
        (
            lambda n=n: his_for(hospital, key).post(
                f"visits/{visit['id']}/charges/old{n}/void/", {"reason": "race"}
            )
        )
        for n in range(20)
    ]
    random.Random(7).shuffle(calls)
    responses = run_together(*calls)

    assert all(r.status_code in (200, 201, 402) for r in responses), responses
    assert ChargeVoid.objects.count() == 20
    line = CreditLine.objects.get(patient=patient, pool="outpatient")
    live = Charge.objects.filter(void__isnull=True)
    assert line.used == sum(c.self_pay_estimate for c in live)
    assert line.used == credit_used_from_entries(line=line)
    assert Decimal("0") <= line.used <= line.limit
    accepted_new = live.filter(his_line_id__startswith="new").count()
    refused = sum(r.status_code == 402 for r in responses)
    assert accepted_new + refused == 20


def test_the_same_idempotency_key_twice_at_once_has_one_effect(setup):
    hospital, key, patient = setup
    visit = his_for(hospital, key).open_visit(patient.citizen_card)
    body = charge_body("L1", "50.00")
    responses = run_together(
        *[
            lambda: his_for(hospital, key).post(f"visits/{visit['id']}/charges/", body, key="same")
            for _ in range(8)
        ]
    )
    assert {r.status_code for r in responses} <= {201, 409}
    assert [r.status_code for r in responses].count(201) >= 1
    assert Charge.objects.count() == 1
    assert CreditEntry.objects.filter(kind="hold").count() == 1


def test_the_same_visit_opened_twice_at_once(setup):
    hospital, key, patient = setup
    responses = run_together(
        *[
            lambda: his_for(hospital, key).post(
                "visits/",
                {"citizen_card": patient.citizen_card, "kind": "outpatient", "his_visit_id": "V"},
            )
            for _ in range(6)
        ]
    )
    assert sorted(r.status_code for r in responses).count(201) == 1, responses
    assert len({r.json()["id"] for r in responses}) == 1


def test_a_retry_while_the_first_attempt_runs_gets_409_then_the_replay(setup):
    """The key is claimed in the request's transaction: nothing is committed before the
    effects, yet a retry meanwhile is told the first attempt is running."""
    import threading

    from django.db import connection, transaction

    from billing.visits.idempotency import idempotency_begin, request_fingerprint

    hospital, key, patient = setup
    his = his_for(hospital, key)
    visit = his.open_visit(patient.citizen_card)
    path = f"visits/{visit['id']}/charges/"
    body = charge_body("L1", "25.00")
    claimed, release = threading.Event(), threading.Event()

    def first_attempt_holding_the_key():
        from rest_framework.renderers import JSONRenderer

        try:
            with transaction.atomic():
                idempotency_begin(
                    institution=hospital,
                    key="slow",
                    fingerprint=request_fingerprint(
                        "POST", f"/api/v1/{path}", JSONRenderer().render(body)
                    ),
                )
                claimed.set()
                release.wait(10)
                raise RuntimeError("the first attempt dies: its claim is rolled back")
        except RuntimeError:
            pass
        finally:
            connection.close()

    thread = threading.Thread(target=first_attempt_holding_the_key)
    thread.start()
    assert claimed.wait(10)
    try:
        response = his.post(path, body, key="slow")
        assert (response.status_code, response.json()["code"]) == (
            409,
            "idempotency_key_in_flight",
        )
        assert not IdempotencyRecord.objects.filter(key="slow").exists()  # nothing committed
    finally:
        release.set()
        thread.join(10)

    retried = his.post(path, body, key="slow")
    assert retried.status_code == 201
    replayed = his.post(path, body, key="slow")
    assert (replayed.status_code, replayed["Idempotent-Replayed"]) == (201, "true")
    assert replayed.json() == retried.json()
    assert Charge.objects.count() == 1
    assert CreditEntry.objects.filter(kind="hold").count() == 1


def test_one_settlement_sent_twice_at_once_is_one_interim_bill(setup):
    hospital, key, patient = setup
    his = his_for(hospital, key)
    visit = his.open_visit(patient.citizen_card, kind="inpatient")
    his.charge(visit["id"], "L1", "4000.00")
    body = {
        "his_settlement_id": "ZJ1",
        "total": "4000.00",
        "insurance_fund": "2800.00",
        "personal_account": "0.00",
        "self_pay": "1200.00",
        "insurance_account_balance": "0.00",
    }

    responses = run_together(
        *[lambda: his_for(hospital, key).post(f"visits/{visit['id']}/interim/", body)] * 4
    )

    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert len({r.json()["bill"]["id"] for r in responses}) == 1
    line = CreditLine.objects.get(patient=patient, pool="inpatient")
    assert line.used == Decimal("1200.00") == credit_used_from_entries(line=line)
    assert CreditEntry.objects.filter(kind="settle").count() == 1
