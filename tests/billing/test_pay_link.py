"""The SMS payment link and its verification code."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from billing.models import PaymentLink
from notifications.models import SmsMessage, VerificationCode
from tests.billing.paying import sent_code
from tests.billing.test_api import settlement

pytestmark = pytest.mark.django_db


def test_the_visit_ended_sms_carries_an_unguessable_link(link):
    sms = SmsMessage.objects.get(template="visit_ended")
    assert f"/p/{link.token}" in sms.body
    assert len(link.token) >= 22  # at least 128 random bits in URL-safe base64
    assert "35.00" in sms.body


def test_the_link_page_shows_the_amount_and_a_masked_phone(client, link):
    page = client.get(f"/p/{link.token}").content.decode()
    assert "35.00" in page and "第一人民医院" in page
    patient = link.bill.patient
    assert patient.masked_phone in page
    assert str(patient.phone)[3:] not in page  # the full number never shows
    assert patient.name not in page and patient.id_number not in page


def test_a_tampered_or_unknown_token_is_404(client, link):
    tampered = link.token[:-1] + ("y" if link.token.endswith("x") else "x")
    assert client.get(f"/p/{tampered}").status_code == 404
    assert client.get("/p/nothing").status_code == 404


def test_code_then_settlement_page(client, link):
    assert client.get(f"/p/{link.token}/bill/").status_code == 302  # not before the code
    client.post(f"/p/{link.token}/code/")
    code = sent_code()
    assert VerificationCode.objects.get().code_hash != code  # stored hashed

    response = client.post(f"/p/{link.token}/verify/", {"code": code}, follow=True)

    page = response.content.decode()
    assert "血常规" in page and "挂号费" in page
    assert "100.00" in page and "35.00" in page and "15.00" in page


def test_a_code_works_once(client, link):
    client.post(f"/p/{link.token}/code/")
    code = sent_code()
    client.post(f"/p/{link.token}/verify/", {"code": code})
    other = type(client)()
    response = other.post(f"/p/{link.token}/verify/", {"code": code})
    assert response.status_code == 400
    assert other.get(f"/p/{link.token}/bill/").status_code == 302


def test_five_wrong_codes_lock_the_link_even_for_the_right_one(client, link):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.post(f"/p/{link.token}/code/")
        code = sent_code()
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            assert client.post(f"/p/{link.token}/verify/", {"code": wrong}).status_code == 400
        response = client.post(f"/p/{link.token}/verify/", {"code": code})
        assert response.status_code == 400  # the 6th check is refused, right or not
        assert client.get(f"/p/{link.token}/bill/").status_code == 302

        traveller.shift(dt.timedelta(minutes=16))
        client.post(f"/p/{link.token}/code/")
        response = client.post(f"/p/{link.token}/verify/", {"code": sent_code()})
        assert response.status_code == 302


def test_codes_expire_after_10_minutes(client, link):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.post(f"/p/{link.token}/code/")
        code = sent_code()
        traveller.shift(dt.timedelta(minutes=11))
        assert client.post(f"/p/{link.token}/verify/", {"code": code}).status_code == 400


def test_resend_waits_60_seconds_and_5_an_hour(client, link):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for n in range(5):
            response = client.post(f"/p/{link.token}/code/")
            assert response.status_code == 302, n
            too_soon = client.post(f"/p/{link.token}/code/")
            assert too_soon.status_code == 400
            traveller.shift(dt.timedelta(seconds=61))
        assert client.post(f"/p/{link.token}/code/").status_code == 400  # 6th in the hour
        assert SmsMessage.objects.filter(template="verification_code").count() == 5
        traveller.shift(dt.timedelta(hours=1))
        assert client.post(f"/p/{link.token}/code/").status_code == 302


def test_an_expired_link_says_so(client, link):
    PaymentLink.objects.filter(pk=link.pk).update(expires_at=timezone.now())
    response = client.get(f"/p/{link.token}")
    assert response.status_code == 410
    assert client.post(f"/p/{link.token}/code/").status_code == 410
    assert not SmsMessage.objects.filter(template="verification_code").exists()


def test_a_paid_bill_has_no_link_to_pay(his, card, client):
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "10.00")
    his.post(f"visits/{visit['id']}/close/", settlement("10.00", "0.00"))
    assert not PaymentLink.objects.exists()
    assert "无需付款" in SmsMessage.objects.get(template="visit_ended").body


@pytest.mark.parametrize(
    ("price", "shown"),
    [("25.5000", "25.50"), ("0.0325", "0.0325"), ("12", "12.00"), ("0.4500", "0.45")],
)
def test_unit_prices_show_cents_and_only_the_digits_used(price, shown):
    from decimal import Decimal

    from billing.templatetags.money import unit_price

    assert unit_price(Decimal(price)) == shown


def test_asking_for_new_codes_does_not_reset_the_wrong_check_count(client, link):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.post(f"/p/{link.token}/code/")
        for _ in range(4):
            client.post(f"/p/{link.token}/verify/", {"code": "000000"})
        traveller.shift(dt.timedelta(seconds=61))
        client.post(f"/p/{link.token}/code/")
        code = sent_code()
        wrong = "000000" if code != "000000" else "111111"
        client.post(f"/p/{link.token}/verify/", {"code": wrong})  # the 5th wrong check
        assert client.post(f"/p/{link.token}/verify/", {"code": code}).status_code == 400


def test_a_verified_session_opens_only_its_own_link(client, his, card, link):
    visit = his.open_visit(card, his_visit_id="V2")
    his.charge(visit["id"], "L1", "10.00")
    his.post(f"visits/{visit['id']}/close/", settlement("10.00", "10.00"))
    other = PaymentLink.objects.exclude(pk=link.pk).get()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.post(f"/p/{link.token}/code/")
        client.post(f"/p/{link.token}/verify/", {"code": sent_code()})
        assert client.get(f"/p/{link.token}/bill/").status_code == 200
        assert client.get(f"/p/{other.token}/bill/").status_code == 302
        traveller.shift(dt.timedelta(minutes=31))  # the verified session has an end
        assert client.get(f"/p/{link.token}/bill/").status_code == 302


def test_the_link_of_a_paid_bill_says_so(client, link):
    from billing.models import Bill

    Bill.objects.filter(pk=link.bill_id).update(status="paid", paid_at=timezone.now())
    response = client.get(f"/p/{link.token}")
    assert response.status_code == 200
    assert "This bill is paid" in response.content.decode()
    assert client.post(f"/p/{link.token}/code/").status_code == 200
    assert not SmsMessage.objects.filter(template="verification_code").exists()
