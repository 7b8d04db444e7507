"""Idempotency-Key: the first answer replayed, never a second effect."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Charge, CreditEntry, IdempotencyRecord, Visit
from billing.visits.idempotency import idempotency_purge, request_fingerprint
from tests.billing.test_api import outpatient, settlement
from tests.conftest import charge_body

pytestmark = pytest.mark.django_db


def test_same_key_same_body_replays_without_a_second_effect(his, card):
    body = {"citizen_card": card, "kind": "outpatient", "his_visit_id": "V1"}
    first = his.post("visits/", body, key="open-1")
    visit_id = first.json()["id"]
    charge = his.post(f"visits/{visit_id}/charges/", charge_body("L1", "25.00"), key="c-1")
    again = his.post(f"visits/{visit_id}/charges/", charge_body("L1", "25.00"), key="c-1")

    assert (charge.status_code, again.status_code) == (201, 201)  # the first status, replayed
    assert again.json() == charge.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Charge.objects.count() == 1
    assert CreditEntry.objects.count() == 1
    assert his.post("visits/", body, key="open-1").json() == first.json()
    assert Visit.objects.count() == 1


def test_same_key_other_body_is_refused(his, card):
    visit = his.open_visit(card)
    his.post(f"visits/{visit['id']}/charges/", charge_body("L1", "25.00"), key="k")
    response = his.post(f"visits/{visit['id']}/charges/", charge_body("L2", "25.00"), key="k")
    assert (response.status_code, response.json()["code"]) == (422, "idempotency_key_reused")
    assert Charge.objects.count() == 1


def test_errors_are_replayed_too(his, card):
    visit = his.open_visit(card)
    too_much = charge_body("L1", "400.00")
    first = his.post(f"visits/{visit['id']}/charges/", too_much, key="big")
    assert first.status_code == 402
    # Even if the request would pass now, the key keeps its first answer.
    his.post(f"visits/{visit['id']}/close/", settlement("0.00", "0.00"))
    again = his.post(f"visits/{visit['id']}/charges/", too_much, key="big")
    assert (again.status_code, again.json()) == (402, first.json())


def test_keys_are_per_institution(his, outsider_his, card):
    a = his.post("visits/", {"citizen_card": card, "kind": "outpatient", "his_visit_id": "A"}, "k")
    b = outsider_his.post(
        "visits/", {"citizen_card": card, "kind": "outpatient", "his_visit_id": "A"}, "k"
    )
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]


def in_flight_record(his, path, body, started_at):
    from rest_framework.renderers import JSONRenderer

    return IdempotencyRecord.objects.create(
        institution=his.institution,
        key="busy",
        request_hash=request_fingerprint("POST", f"/api/v1/{path}", JSONRenderer().render(body)),
        started_at=started_at,
    )


def test_key_in_flight_gets_409_and_a_dead_one_is_taken_over(his, card):
    visit = his.open_visit(card)
    path = f"visits/{visit['id']}/charges/"
    body = charge_body("L1", "25.00")
    record = in_flight_record(his, path, body, timezone.now())

    response = his.post(path, body, key="busy")
    assert (response.status_code, response.json()["code"]) == (409, "idempotency_key_in_flight")
    assert not Charge.objects.exists()

    IdempotencyRecord.objects.filter(pk=record.pk).update(
        started_at=timezone.now() - dt.timedelta(minutes=5)
    )
    assert his.post(path, body, key="busy").status_code == 201
    assert Charge.objects.count() == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
def test_invalid_keys_are_refused(his, card, key):
    response = his.post(
        "visits/", {"citizen_card": card, "kind": "outpatient", "his_visit_id": "A"}, key
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_idempotency_key")
    assert not Visit.objects.exists()


def test_keys_are_kept_at_least_24_hours(his, card, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 48
    with time_machine.travel("2026-11-01 08:00:00+08:00", tick=False):
        his.post("visits/", {"citizen_card": card, "kind": "outpatient", "his_visit_id": "A"}, "k")
    with time_machine.travel("2026-11-02 20:00:00+08:00", tick=False):  # 36 hours later
        assert idempotency_purge() == 0
        replay = his.post(
            "visits/", {"citizen_card": card, "kind": "outpatient", "his_visit_id": "A"}, "k"
        )
        assert replay["Idempotent-Replayed"] == "true"
    with time_machine.travel("2026-11-03 09:00:00+08:00", tick=False):  # 49 hours later
        assert idempotency_purge() == 1
    assert not IdempotencyRecord.objects.exists()
    assert outpatient(card).used == 0


def test_a_charge_request_makes_at_most_ten_statements(his, card):
    """Everything included: authentication (a cache hit once the key was used in this
    process, as on every request but a worker's first), the transaction, the
    Idempotency-Key's claim, the locks, the writes and the answer kept under the key."""
    visit = his.open_visit(card)
    path = f"visits/{visit['id']}/charges/"
    lines = [charge_body("L1", "25.00"), charge_body("L2", "0.10")]
    with CaptureQueriesContext(connection) as captured:
        first = his.post(path, lines, key="both")
    statements = [query["sql"] for query in captured]  # before the next request clears them
    again = his.post(path, lines, key="both")

    assert len(statements) <= 10, statements
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert first.json()["visit"]["held"] == "25.10"
    assert CreditEntry.objects.count() == 2
