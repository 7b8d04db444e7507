"""A large bill asks for more than the SMS code (issue 17, seed 004): the last 6 characters
of the patient's ID number, and a real-name check where a service is configured; wrong
answers lock it as wrong codes do, and every answer is kept."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from accounts import services as account_services
from accounts.demo import demo_resident_id
from accounts.models import CreditLine
from billing.models import PaymentLink, StrongCheckAttempt
from tests.billing.paying import sent_code
from tests.billing.test_api import settlement

pytestmark = pytest.mark.django_db


def large_link(his, card, credit_officer, self_pay="6000.00") -> PaymentLink:
    """An inpatient stay whose bill is ``self_pay`` (its limit raised to hold it)."""
    line = CreditLine.objects.get(patient__citizen_card=card, pool="inpatient")
    account_services.credit_limit_change(
        credit_line=line,
        new_limit=Decimal("20000.00"),
        reason="long stay",
        source="staff",
        actor=credit_officer,
    )
    visit = his.open_visit(card, kind="inpatient", his_visit_id="ZY1")
    his.charge(visit["id"], "L1", self_pay, category="bed")
    response = his.post(f"visits/{visit['id']}/close/", settlement(self_pay, self_pay))
    assert response.status_code == 200, response.json()
    return PaymentLink.objects.get()


def with_code(link) -> Client:
    client = Client()
    client.post(f"/p/{link.token}/code/")
    client.post(f"/p/{link.token}/verify/", {"code": sent_code()})
    return client


def test_a_bill_above_the_threshold_asks_for_the_end_of_the_id_number(his, card, credit_officer):
    link = large_link(his, card, credit_officer)
    client = with_code(link)
    bill_page = f"/p/{link.token}/bill/"
    assert client.get(bill_page)["Location"] == f"/p/{link.token}/check/"
    assert client.post(f"/p/{link.token}/pay/", {"channel": "sandbox"}).status_code == 302
    assert not link.bill.payments.exists()  # nothing started before the check

    page = client.get(f"/p/{link.token}/check/")
    assert page.status_code == 200 and "¥6000.00" in page.content.decode()
    wrong = client.post(f"/p/{link.token}/check/", {"answer": "000000"})
    assert wrong.status_code == 400
    right = link.bill.patient.id_number[-6:].lower()  # an x is an X
    answer = client.post(f"/p/{link.token}/check/", {"answer": right})
    assert answer["Location"] == bill_page
    assert client.get(bill_page).status_code == 200
    assert list(StrongCheckAttempt.objects.order_by("pk").values_list("passed", flat=True)) == [
        False,
        True,
    ]
    # A new code asks again.
    with time_machine.travel(dt.timedelta(minutes=2)):
        client.post(f"/p/{link.token}/code/")
        client.post(f"/p/{link.token}/verify/", {"code": sent_code()})
        assert client.get(bill_page)["Location"] == f"/p/{link.token}/check/"


def test_a_bill_at_the_threshold_asks_for_the_code_only(his, card, credit_officer, settings):
    settings.STRONG_CHECK_ABOVE = Decimal("6000.00")
    link = large_link(his, card, credit_officer)
    assert with_code(link).get(f"/p/{link.token}/bill/").status_code == 200


def test_five_wrong_answers_lock_it(his, card, credit_officer):
    link = large_link(his, card, credit_officer)
    client = with_code(link)
    right = link.bill.patient.id_number[-6:]
    with time_machine.travel(dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC), tick=False) as clock:
        for _ in range(5):
            client.post(f"/p/{link.token}/check/", {"answer": "123456"})
        locked = client.post(f"/p/{link.token}/check/", {"answer": right})
        assert locked.status_code == 400
        assert "Too many wrong answers" in locked.content.decode()
        clock.shift(dt.timedelta(minutes=16))
        assert client.post(f"/p/{link.token}/check/", {"answer": right}).status_code == 302
    assert StrongCheckAttempt.objects.count() == 6  # the one refused while locked is no answer


def test_a_real_name_service_is_asked_after_the_right_answer(his, card, credit_officer, settings):
    settings.REALNAME_PROVIDER = "sandbox"
    link = large_link(his, card, credit_officer)
    client = with_code(link)
    right = link.bill.patient.id_number[-6:]

    settings.SANDBOX_REALNAME_UNAVAILABLE = True
    unavailable = client.post(f"/p/{link.token}/check/", {"answer": right})
    assert unavailable.status_code == 400 and "try again" in unavailable.content.decode()
    settings.SANDBOX_REALNAME_UNAVAILABLE = False
    assert client.post(f"/p/{link.token}/check/", {"answer": right}).status_code == 302
    assert list(StrongCheckAttempt.objects.order_by("pk").values_list("realname", flat=True)) == [
        "unavailable",
        "match",
    ]


def test_no_match_sends_the_payer_to_a_window(his, card, credit_officer, settings):
    settings.REALNAME_PROVIDER = "sandbox"
    link = large_link(his, card, credit_officer)
    patient = link.bill.patient
    patient.id_number = demo_resident_id("19800101", "999")  # the sandbox's "no match"
    patient.save()
    client = with_code(link)

    answer = client.post(f"/p/{link.token}/check/", {"answer": patient.id_number[-6:]})
    assert answer.status_code == 400 and "window" in answer.content.decode()
    assert client.get(f"/p/{link.token}/bill/")["Location"] == f"/p/{link.token}/check/"
    assert StrongCheckAttempt.objects.get().realname == "no_match"


def test_the_sandbox_real_name_service_is_refused_where_the_sandbox_is_off(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.REALNAME_PROVIDER, settings.SANDBOX_ENABLED = "sandbox", False
    settings.EINVOICE_PROVIDER = ""
    with pytest.raises(SystemCheckError, match=r"creditcare\.E007"):
        call_command("check")
