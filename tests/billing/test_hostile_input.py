"""Inputs a hostile probe sent that answered 500 (issue 13, defect 7): a NUL byte, which no
database column can hold, and a date drill-down past the calendar's end. Each gets a 4xx and
changes nothing."""

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client

from billing.models import Payment, PaymentNotification, PaymentStatus
from billing.payments.gateways.sandbox import SIGNED_FIELDS, SandboxGateway, sign
from tests.billing.paying import start
from tests.conftest import logged_in
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path", ["/p/%00", "/p/%00/bill/", "/p/abc%00/receipt/", "/pay/sandbox/%00/"]
)
def test_a_nul_in_a_patients_page_address_is_no_page(path, db):
    assert Client().get(path).status_code == 404


def test_a_nul_in_the_desk_search_finds_nobody(clerk_client, signed_patient):
    page = clerk_client.get("/admin/accounts/patient/desk/", {"q": "\x00"})
    assert page.status_code == 200
    assert signed_patient.patient.citizen_card not in page.content.decode()


def test_a_signed_notification_with_a_nul_in_the_order_number_is_refused(verified, link):
    payment = start(verified, link)
    fields = SandboxGateway().checkout(payment, "PAID")
    fields = {name: fields[name] for name in SIGNED_FIELDS}
    fields["out_trade_no"] += "\x00"
    forged = {**fields, "sign": sign(fields)}  # signed as the channel signs

    answer = Client().post("/pay/notify/sandbox/", forged)

    assert answer.status_code == 400
    assert not PaymentNotification.objects.exists()
    assert Payment.objects.get().status == PaymentStatus.PENDING


@pytest.mark.parametrize(
    "params",
    [
        {"started_at__year": "9999", "started_at__month": "12", "started_at__day": "31"},
        {"started_at__year": "9999", "started_at__month": "12"},
        {"started_at__year": "99999"},
    ],
)
def test_a_date_drill_down_past_the_calendars_end_is_refused_not_a_500(hospital, params):
    admin = logged_in(StaffFactory(institution=hospital, is_superuser=True))

    page = admin.get("/admin/billing/visit/", params)

    assert page.status_code in (200, 302)  # Django's "?e=1": the lookup was refused
    assert not LogEntry.objects.exists()


# Found by scripts/hostile.py.


@pytest.mark.parametrize(
    "url",
    [
        "/admin/billing/bill/?status__exact=%00",
        "/admin/accounts/creditagreement/?status__exact=%00",
        "/admin/billing/creditentry/?kind__exact=%00",
    ],
)
def test_a_nul_in_a_list_filter_is_a_400(hospital, url):
    admin = StaffFactory(is_superuser=True, is_staff=True, institution=hospital)
    assert logged_in(admin).get(url).status_code == 400


@pytest.mark.parametrize("object_id", ["abc", "1.5", "%00"])
def test_a_history_page_of_no_number_is_a_404(hospital, object_id):
    admin = StaffFactory(is_superuser=True, is_staff=True, institution=hospital)
    client = logged_in(admin)
    assert client.get(f"/admin/accounts/creditpolicy/{object_id}/history/").status_code == 404
    assert client.get(f"/admin/accounts/creditpolicy/1/history/{object_id}/").status_code == 404


def test_a_notification_for_a_channel_without_keys_is_no_page(db, settings):
    settings.PAYMENT_CHANNELS = ["sandbox", "alipay"]  # Alipay on, but no keys configured
    answer = Client().post("/pay/notify/alipay/", {"out_trade_no": "CC1", "sign": "x"})
    assert answer.status_code == 404
    assert not PaymentNotification.objects.exists()
