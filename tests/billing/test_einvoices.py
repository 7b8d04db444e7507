"""Electronic invoices (issue 16): a paid bill's e-invoice is asked of the platform after
commit and asked again until it answers; the sandbox platform numbers it from its range,
finishes it later, refuses what it must and times out on its bad days; a refunded part is
reversed by a red invoice linked to the original."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import Client

from billing.einvoices.providers.sandbox import TIMEOUTS
from billing.einvoices.services import einvoice_attempt, einvoice_retry
from billing.models import (
    EInvoice,
    EInvoiceEventKind,
    EInvoiceStatus,
    SandboxEInvoice,
)
from billing.payments.gateways.sandbox import SandboxGateway
from billing.payments.services import payment_notified, payment_start
from billing.tasks import issue_due_einvoices, issue_einvoice
from creditcare.errors import DomainError
from tests.billing.paying import press, start
from tests.billing.test_api import settlement
from tests.billing.test_payment_races import closed_visit_link
from tests.conftest import logged_in
from tests.threads import run_together

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def later(clock, seconds: float) -> None:
    clock.shift(dt.timedelta(seconds=seconds))


def events(einvoice: EInvoice) -> list[str]:
    return list(einvoice.events.order_by("pk").values_list("kind", flat=True))


def blue_of(payment) -> EInvoice:
    return EInvoice.objects.get(invoice__bill=payment.bill, red=False)


def void(his, payment, line: str):
    response = his.post(f"visits/{payment.bill.visit_id}/charges/{line}/void/", {"reason": "退药"})
    assert response.status_code == 200, response.json()


def test_a_paid_bill_gets_its_einvoice_when_the_platform_has_finished(clock, paid):
    einvoice = blue_of(paid)
    assert einvoice.status == EInvoiceStatus.REQUESTED
    # What it shows is kept as asked for: the payer (masked), the items by category, the
    # insurance settlement's parts.
    assert einvoice.payer_name == paid.bill.patient.name
    assert "*" in einvoice.payer_id_masked
    assert einvoice.payer_id_masked != paid.bill.patient.id_number
    assert einvoice.items == [["lab", "80.00"], ["registration", "20.00"]]
    assert (
        einvoice.total,
        einvoice.insurance_fund,
        einvoice.personal_account,
        einvoice.self_pay,
    ) == (Decimal("100.00"), Decimal("50.00"), Decimal("15.00"), Decimal("35.00"))

    issue_einvoice(str(einvoice.pk))  # the task after commit: the platform is working on it
    einvoice.refresh_from_db()
    assert (einvoice.status, einvoice.number) == (EInvoiceStatus.REQUESTED, "")
    assert einvoice.next_attempt_at == START + dt.timedelta(seconds=30)

    later(clock, 10)
    assert issue_due_einvoices() == 0  # not yet due
    later(clock, 25)
    assert issue_due_einvoices() == 1
    einvoice.refresh_from_db()
    assert einvoice.status == EInvoiceStatus.ISSUED
    assert (einvoice.code, einvoice.number) == ("33060126", "0000000001")
    assert len(einvoice.check_code) == 6 and einvoice.issued_on == dt.date(2026, 11, 23)
    assert einvoice.next_attempt_at is None
    assert events(einvoice) == [EInvoiceEventKind.REQUESTED, EInvoiceEventKind.ISSUED]
    # Asked again (a doubled task): nothing changes, the platform issued one.
    assert issue_einvoice(str(einvoice.pk)) is None
    assert SandboxEInvoice.objects.count() == 1


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_timeout_is_asked_again_and_issues_one_invoice(clock, paid, settings, when):
    settings.SANDBOX_EINVOICE_DELAY_SECONDS = 0
    einvoice = blue_of(paid)
    settings.SANDBOX_EINVOICE_TIME_OUT = when
    issue_einvoice(str(einvoice.pk))
    einvoice.refresh_from_db()
    assert einvoice.status == EInvoiceStatus.REQUESTED
    assert einvoice.last_error == TIMEOUTS[when]
    assert einvoice.next_attempt_at == START + dt.timedelta(minutes=1)
    # "after": the platform has it, only its answer was lost.
    assert SandboxEInvoice.objects.count() == (1 if when == "after" else 0)

    settings.SANDBOX_EINVOICE_TIME_OUT = ""
    later(clock, 61)
    issue_due_einvoices()
    einvoice.refresh_from_db()
    assert (einvoice.status, einvoice.number, einvoice.last_error) == (
        EInvoiceStatus.ISSUED,
        "0000000001",
        "",
    )
    assert SandboxEInvoice.objects.count() == 1
    assert events(einvoice) == [
        EInvoiceEventKind.REQUESTED,
        EInvoiceEventKind.NOT_ANSWERED,
        EInvoiceEventKind.ISSUED,
    ]


def test_a_refusal_waits_for_finance_who_asks_again(clock, paid, settings, finance_officer):
    settings.SANDBOX_EINVOICE_DELAY_SECONDS = 0
    settings.SANDBOX_EINVOICE_REFUSE = "交款人证件号码校验失败"
    einvoice = blue_of(paid)
    issue_einvoice(str(einvoice.pk))
    einvoice.refresh_from_db()
    assert (einvoice.status, einvoice.last_error) == (
        EInvoiceStatus.FAILED,
        "交款人证件号码校验失败",
    )
    later(clock, 3600)
    assert issue_due_einvoices() == 0  # a refusal is not asked again by itself

    with pytest.raises(DomainError):
        einvoice_retry(einvoice=einvoice, actor=finance_officer, reason=" ")
    settings.SANDBOX_EINVOICE_REFUSE = ""
    einvoice_retry(einvoice=einvoice, actor=finance_officer, reason="证件号码已核实")
    einvoice_retry(einvoice=einvoice, actor=finance_officer, reason="clicked twice")
    issue_due_einvoices()
    einvoice.refresh_from_db()
    assert einvoice.status == EInvoiceStatus.ISSUED
    retried = einvoice.events.filter(kind=EInvoiceEventKind.RETRIED)
    assert [(e.actor, e.note) for e in retried] == [(finance_officer, "证件号码已核实")]


def test_the_platform_refuses_when_the_range_is_used_up(clock, paid, settings):
    settings.SANDBOX_EINVOICE_DELAY_SECONDS = 0
    settings.SANDBOX_EINVOICE_NUMBERS = "5-5"
    SandboxEInvoice.objects.create(
        request_id="another",
        code="33060126",
        number="0000000005",
        check_code="abcdef",
        total=Decimal("1.00"),
        issued_on=dt.date(2026, 11, 1),
        ready_at=START,
        document={},
    )
    einvoice = blue_of(paid)
    issue_einvoice(str(einvoice.pk))
    einvoice.refresh_from_db()
    assert einvoice.status == EInvoiceStatus.FAILED
    assert "号段已用完" in einvoice.last_error


def test_refunds_are_reversed_by_red_invoices_partly_then_in_full(
    clock, his, paid, settings, django_capture_on_commit_callbacks
):
    settings.SANDBOX_EINVOICE_DELAY_SECONDS = 0
    blue = blue_of(paid)
    # The first refund comes before the blue invoice is issued: its red one waits for it.
    with django_capture_on_commit_callbacks(execute=True):
        void(his, paid, "L2")  # 20.00, all self-pay, refunded online
    red = EInvoice.objects.get(red=True)
    assert red.status == EInvoiceStatus.REQUESTED and red.original == blue
    assert red.next_attempt_at is None  # asked for once the original is issued

    later(clock, 31)
    with django_capture_on_commit_callbacks(execute=True):
        issue_due_einvoices()  # the original, which wakes the red one
    blue.refresh_from_db()
    red.refresh_from_db()
    assert blue.status == EInvoiceStatus.ISSUED  # a part reversed: still issued
    assert red.status == EInvoiceStatus.ISSUED
    assert (red.total, red.self_pay, red.insurance_fund, red.items) == (
        Decimal("-20.00"),
        Decimal("-20.00"),
        Decimal("0.00"),
        [["registration", "-20.00"]],
    )
    assert red.number == "0000000002" and red.refund.amount == Decimal("20.00")

    with django_capture_on_commit_callbacks(execute=True):
        void(his, paid, "L1")  # the 15.00 of self-pay left
    blue.refresh_from_db()
    assert blue.status == EInvoiceStatus.REVERSED  # its whole self-pay is back
    reds = blue.reversals.order_by("created_at")
    assert [(r.total, r.status) for r in reds] == [
        (Decimal("-20.00"), EInvoiceStatus.ISSUED),
        (Decimal("-15.00"), EInvoiceStatus.ISSUED),
    ]
    assert EInvoiceEventKind.REVERSED in events(blue)
    # The platform's books agree: nothing reversed beyond what it issued.
    assert sum(SandboxEInvoice.objects.values_list("total", flat=True)) == Decimal("65.00")


def test_without_a_platform_no_einvoice_is_asked_for(settings, verified, link):
    settings.EINVOICE_PROVIDER = ""
    press(verified, start(verified, link), "paid")
    assert not EInvoice.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_workers_asking_at_once_ask_the_platform_once(settings):
    settings.SANDBOX_EINVOICE_DELAY_SECONDS = 0
    settings.SANDBOX_EINVOICE_TIME_OUT = "before"  # the task after commit gets no answer
    link = closed_visit_link()
    gateway = SandboxGateway()
    payment = payment_start(link=link, channel="sandbox")[0]
    payment_notified(
        channel="sandbox", notification=gateway.parse_fields(gateway.checkout(payment, "PAID"))
    )
    einvoice = EInvoice.objects.get()
    assert einvoice.attempts == 1 and einvoice.status == EInvoiceStatus.REQUESTED

    settings.SANDBOX_EINVOICE_TIME_OUT = ""
    with time_machine.travel(dt.timedelta(minutes=2)):
        answers = run_together(
            *[lambda: einvoice_attempt(einvoice_id=str(einvoice.pk)) for _ in range(2)]
        )
    assert sum(answer is not None for answer in answers) == 1, answers
    einvoice.refresh_from_db()
    assert einvoice.status == EInvoiceStatus.ISSUED and einvoice.attempts == 2
    assert SandboxEInvoice.objects.count() == 1


def test_the_bill_api_gives_the_invoice_the_einvoice_and_the_payments(
    clock, his, paid, settings, django_capture_on_commit_callbacks
):
    settings.SANDBOX_EINVOICE_DELAY_SECONDS = 0
    issue_einvoice(str(blue_of(paid).pk))
    with django_capture_on_commit_callbacks(execute=True):
        void(his, paid, "L2")  # 20.00 back

    bill = his.get(f"bills/{paid.bill_id}/").json()
    einvoice = blue_of(paid)
    assert bill["invoice_number"] == paid.bill.invoice.number
    assert bill["einvoice"] == {
        "status": "issued",
        "code": einvoice.code,
        "number": einvoice.number,
        "check_code": einvoice.check_code,
        "issued_on": "2026-11-23",
    }
    assert (bill["paid_amount"], bill["refunded_amount"]) == ("35.00", "20.00")
    assert bill["payments"] == [
        {
            "id": paid.pk,
            "channel": "sandbox",
            "method": "",
            "amount": "35.00",
            "status": "partially_refunded",
            "succeeded_at": "2026-11-23T18:00:00+08:00",  # START, in China time
        }
    ]


def statements(call) -> int:
    """How many SQL statements ``call()`` runs (the test client resets Django's query log
    at each request, so it is counted as it runs)."""
    count = 0

    def counted(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        call()
    return count


def test_a_page_of_bills_costs_the_same_statements_for_more_bills(his, card, paid):
    one = statements(lambda: his.get("bills/"))
    for number in (2, 3):
        visit = his.open_visit(card, his_visit_id=f"V{number}")
        his.charge(visit["id"], "L1", "10.00")
        his.post(f"visits/{visit['id']}/close/", settlement("10.00", "10.00"))
    assert his.get("bills/").json()["count"] == 3
    assert statements(lambda: his.get("bills/")) == one


def test_a_red_invoice_waits_for_its_refused_original(
    clock, his, paid, settings, finance_officer, django_capture_on_commit_callbacks
):
    settings.SANDBOX_EINVOICE_DELAY_SECONDS = 0
    settings.SANDBOX_EINVOICE_REFUSE = "交款人姓名与证件不符"
    blue = blue_of(paid)
    issue_einvoice(str(blue.pk))
    with django_capture_on_commit_callbacks(execute=True):
        void(his, paid, "L2")
    red = EInvoice.objects.get(red=True)
    assert red.next_attempt_at is None  # nothing to reverse at the platform yet
    later(clock, 3600)
    assert issue_due_einvoices() == 0
    with pytest.raises(DomainError) as refused:
        einvoice_retry(einvoice=blue, actor=finance_officer, reason=" ")
    assert refused.value.code == "reason_required"

    settings.SANDBOX_EINVOICE_REFUSE = ""
    with django_capture_on_commit_callbacks(execute=True):
        einvoice_retry(einvoice=blue, actor=finance_officer, reason="姓名已更正")
    with django_capture_on_commit_callbacks(execute=True):
        issue_due_einvoices()  # the original, which wakes the red one
    red.refresh_from_db()
    assert red.status == EInvoiceStatus.ISSUED and red.original.status == EInvoiceStatus.ISSUED


def test_only_whoever_sees_the_receipt_downloads_the_einvoice(
    client, verified, paid, settings, card
):
    settings.SANDBOX_EINVOICE_DELAY_SECONDS = 0
    einvoice = blue_of(paid)
    issue_einvoice(str(einvoice.pk))
    token = paid.bill.payment_link.token
    url = f"/p/{token}/einvoice/{einvoice.pk}/"

    answer = verified.get(url)
    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    # Without the code the receipt says how; another bill's link gets nothing.
    stranger = Client().get(url)
    assert stranger.status_code == 302 and stranger["Location"] == f"/p/{token}/receipt/"
    assert verified.get(f"/p/{token}/einvoice/{uuid.uuid4()}/").status_code == 404
    assert verified.get(f"/p/not-a-link/einvoice/{einvoice.pk}/").status_code == 404


def test_window_staff_print_the_einvoice_of_an_invoice(paid, settings, window_clerk, collector):
    settings.SANDBOX_EINVOICE_DELAY_SECONDS = 0
    issue_einvoice(str(blue_of(paid).pk))
    invoice = paid.bill.invoice
    url = f"/admin/billing/invoice/{invoice.pk}/print/"

    assert logged_in(window_clerk).get(url).status_code == 405
    assert logged_in(collector).post(url).status_code == 403
    page = logged_in(window_clerk).get(f"/admin/billing/invoice/{invoice.pk}/change/")
    assert blue_of(paid).number in page.content.decode()
    answer = logged_in(window_clerk).post(url)
    assert answer.status_code == 200 and answer.content.startswith(b"%PDF")
    invoice.refresh_from_db()
    assert invoice.printed_by == window_clerk
