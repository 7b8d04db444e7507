"""Collection cases through time: opened at 7 days overdue, closed when paid; promises kept
and broken; payment plans whose instalments are each paid by their own link; disputes pause
reminders; write-offs by finance only, the amount staying in the record."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied

from accounts.models import AgreementStatus
from billing.collections import cases
from billing.collections.reminders import reminders_send
from billing.collections.sweep import overdue_sweep
from billing.ledger import credit_used_from_entries
from billing.models import (
    BillStatus,
    CaseEventKind,
    CaseStatus,
    CollectionCase,
    CreditEntry,
    Instalment,
    PromiseStatus,
)
from creditcare.errors import DomainError
from notifications.models import SmsMessage
from tests.billing.paying import sent_code
from tests.billing.test_api import assert_credit_consistent, outpatient
from tests.billing.test_overdue import CHINA, CLOSED, DUE, bill_closed_at, pay

pytestmark = pytest.mark.django_db

DAY_7 = DUE + dt.timedelta(days=7)  # 2026-03-11 10:00


@pytest.fixture
def bill(his, card):
    return bill_closed_at(his, card, CLOSED, amount="90.00")


@pytest.fixture
def case(bill) -> CollectionCase:
    with time_machine.travel(DAY_7, tick=False):
        overdue_sweep()
    return CollectionCase.objects.get()


def kinds(case) -> list[str]:
    return list(case.events.order_by("pk").values_list("kind", flat=True))


def test_a_case_opens_at_seven_days_overdue_and_closes_when_paid(bill):
    with time_machine.travel(DAY_7 - dt.timedelta(days=1), tick=False):
        assert overdue_sweep().cases_opened == 0
    with time_machine.travel(DAY_7, tick=False):
        assert overdue_sweep().cases_opened == 1
        assert overdue_sweep().cases_opened == 0  # one open case per patient
    case = CollectionCase.objects.get()
    assert (case.overdue_amount, case.oldest_due_at) == (Decimal("90.00"), bill.due_at)
    assert cases.bucket_of(7) == "1-7"
    with time_machine.travel(DAY_7 + dt.timedelta(hours=2), tick=False):
        pay(bill)
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED and case.closed_at
    assert kinds(case) == [CaseEventKind.OPENED, CaseEventKind.CLOSED]


def test_priority_grows_with_age_and_amount(his, card, bill):
    with time_machine.travel(DAY_7, tick=False):
        overdue_sweep()
    case = CollectionCase.objects.get()
    first = case.priority
    with time_machine.travel(DAY_7 + dt.timedelta(days=3), tick=False):
        overdue_sweep()
    case.refresh_from_db()
    assert case.priority == first + 30  # 10 per day
    assert cases.case_priority(amount=Decimal("500"), days=1, on_top=False) > (
        cases.case_priority(amount=Decimal("50"), days=1, on_top=False)
    )


@pytest.mark.parametrize(
    ("days", "bucket"), [(1, "1-7"), (8, "8-30"), (31, "31-60"), (90, "61-90"), (91, ">90")]
)
def test_buckets(days, bucket):
    assert cases.bucket_of(days) == bucket


def test_a_kept_promise(case, bill, collector):
    with time_machine.travel(DAY_7 + dt.timedelta(hours=1), tick=False):
        promise = cases.case_promise(
            case=case, actor=collector, promised_date=dt.date(2026, 3, 13), amount=Decimal("90")
        )
    with time_machine.travel(dt.datetime(2026, 3, 13, 9, tzinfo=CHINA), tick=False):
        pay(bill)
    promise.refresh_from_db()
    assert promise.status == PromiseStatus.KEPT
    event = case.events.get(kind=CaseEventKind.PROMISE)
    assert event.actor == collector and event.amount == Decimal("90.00")


def test_a_broken_promise_puts_the_case_on_top_the_day_after(case, his, card, collector):
    with time_machine.travel(DAY_7 + dt.timedelta(hours=1), tick=False):
        promise = cases.case_promise(
            case=case, actor=collector, promised_date=dt.date(2026, 3, 12), amount=Decimal("50")
        )
    with time_machine.travel(dt.datetime(2026, 3, 12, 23, 0, tzinfo=CHINA), tick=False):
        overdue_sweep()  # the day itself: still pending
    promise.refresh_from_db()
    assert promise.status == PromiseStatus.PENDING
    with time_machine.travel(dt.datetime(2026, 3, 13, 0, 5, tzinfo=CHINA), tick=False):
        assert overdue_sweep().promises_broken == 1
        assert overdue_sweep().promises_broken == 0
    promise.refresh_from_db()
    case.refresh_from_db()
    assert promise.status == PromiseStatus.BROKEN
    assert case.on_top_since == dt.date(2026, 3, 13)
    assert case.priority >= cases.ON_TOP
    # The next action by an agent gives it back its normal place.
    with time_machine.travel(dt.datetime(2026, 3, 13, 9, tzinfo=CHINA), tick=False):
        cases.case_log_contact(
            case=case, actor=collector, channel="call", outcome="reached", note="pays Friday"
        )
    case.refresh_from_db()
    assert case.on_top_since is None and case.priority < cases.ON_TOP
    assert kinds(case)[-2:] == [CaseEventKind.PROMISE_BROKEN, CaseEventKind.CONTACT]


def test_a_promise_must_be_sensible(case, collector):
    with time_machine.travel(DAY_7 + dt.timedelta(hours=1), tick=False):
        for date, amount, code in [
            (dt.date(2026, 3, 1), "10", "promise_in_past"),
            (dt.date(2026, 3, 20), "0", "promise_amount"),
            (dt.date(2026, 3, 20), "90.01", "promise_amount"),
        ]:
            with pytest.raises(DomainError) as refused:
                cases.case_promise(
                    case=case, actor=collector, promised_date=date, amount=Decimal(amount)
                )
            assert refused.value.code == code
    assert not case.promises.exists()


def _plan(case, bill, collector):
    with time_machine.travel(DAY_7 + dt.timedelta(hours=1), tick=False):
        return cases.case_plan(
            case=case,
            actor=collector,
            bill=bill,
            instalments=[
                (dt.date(2026, 3, 15), Decimal("30.00")),
                (dt.date(2026, 3, 22), Decimal("30.00")),
                (dt.date(2026, 3, 29), Decimal("30.00")),
            ],
        )


def _pay_through(client, link):
    """The patient pays one link: code, settlement page, sandbox."""
    client.post(f"/p/{link.token}/code/")
    client.post(f"/p/{link.token}/verify/", {"code": sent_code()})
    page = client.get(f"/p/{link.token}/bill/").content.decode()
    response = client.post(f"/p/{link.token}/pay/", {"channel": "sandbox"})
    checkout = response["Location"]
    client.post(checkout, {"outcome": "paid"})
    return page


def test_a_payment_plan_is_paid_instalment_by_instalment(case, bill, card, collector, client):
    plan = _plan(case, bill, collector)
    instalments = list(plan.instalments.select_related("payment_link"))
    assert [i.amount for i in instalments] == [Decimal("30.00")] * 3
    links = [i.payment_link.token for i in instalments]
    assert len({*links, bill.payment_link.token}) == 4  # each its own link

    for number, instalment in enumerate(instalments, 1):
        day = instalment.due_at - dt.timedelta(hours=5)
        with time_machine.travel(day, tick=False):
            page = _pay_through(client, instalment.payment_link)
            assert "30.00" in page and f"{number}" in page
            bill.refresh_from_db()
            instalment.refresh_from_db()
            assert instalment.paid_at is not None
            assert bill.paid_amount == Decimal("30.00") * number
            assert outpatient(card).used == Decimal("90.00") - bill.paid_amount
            assert_credit_consistent(card)
            # A paid instalment's link says so; it cannot be paid twice.
            again = client.get(f"/p/{instalment.payment_link.token}")
            assert "data-amount" not in again.content.decode()
    bill.refresh_from_db()
    case.refresh_from_db()
    assert bill.status == BillStatus.PAID and bill.invoice.number.startswith("YD")
    assert case.status == CaseStatus.CLOSED
    assert SmsMessage.objects.filter(template="instalment_received").count() == 2
    assert SmsMessage.objects.filter(template="payment_received").count() == 1
    assert credit_used_from_entries(line=outpatient(card)) == 0


def test_instalments_get_their_own_reminders_and_the_bill_none(case, bill, collector):
    plan = _plan(case, bill, collector)
    first = plan.instalments.get(number=1)
    SmsMessage.objects.filter(template="bill_reminder").delete()
    with time_machine.travel(first.due_at - dt.timedelta(hours=20), tick=False):  # 03-15 03:59
        reminders_send()
    with time_machine.travel(first.due_at - dt.timedelta(hours=14), tick=False):  # 09:59
        assert reminders_send() == 1
    message = SmsMessage.objects.get(template="bill_reminder")
    assert message.dedup_key == f"reminder:i{first.pk}:-24h"
    assert first.payment_link.token in message.body and "30.00" in message.body


def test_the_whole_bill_can_still_be_paid_at_once_and_a_plan_must_add_up(
    case, bill, collector, client
):
    with time_machine.travel(DAY_7 + dt.timedelta(hours=1), tick=False):
        with pytest.raises(DomainError) as refused:
            cases.case_plan(
                case=case,
                actor=collector,
                bill=bill,
                instalments=[(dt.date(2026, 3, 15), Decimal("30")), (dt.date(2026, 3, 22), "50")],
            )
        assert refused.value.code == "plan_amounts"
    plan = _plan(case, bill, collector)
    with time_machine.travel(DAY_7 + dt.timedelta(hours=2), tick=False):
        _pay_through(client, bill.payment_link)
    bill.refresh_from_db()
    assert bill.status == BillStatus.PAID
    assert not Instalment.objects.filter(plan=plan, paid_at=None).exists()  # all covered
    # The instalments' links have nothing left to pay.
    page = client.get(f"/p/{plan.instalments.first().payment_link.token}").content.decode()
    assert "data-amount" not in page


def test_a_disputed_case_gets_no_reminders_until_resolved(case, collector):
    SmsMessage.objects.filter(template="bill_reminder").delete()
    with time_machine.travel(DUE + dt.timedelta(days=14, hours=-1), tick=False):  # 09:00
        cases.case_dispute(case=case, actor=collector, disputed=True, note="says paid cash")
        assert reminders_send() == 0
        cases.case_dispute(case=case, actor=collector, disputed=False, note="checked")
        assert reminders_send() == 1
    assert kinds(case)[-2:] == [CaseEventKind.DISPUTED, CaseEventKind.DISPUTE_RESOLVED]


def test_only_finance_writes_off_and_the_amount_stays_in_the_record(
    case, bill, card, collector, finance_officer, signed_patient
):
    with time_machine.travel(DAY_7 + dt.timedelta(hours=1), tick=False):
        with pytest.raises(PermissionDenied):
            cases.bill_write_off(bill=bill, actor=collector, reason="uncollectable")
        bill.refresh_from_db()
        assert bill.status == BillStatus.OVERDUE
        cases.bill_write_off(bill=bill, actor=finance_officer, reason="deceased")
    bill.refresh_from_db()
    case.refresh_from_db()
    assert (bill.status, bill.written_off_amount) == (BillStatus.WRITTEN_OFF, Decimal("90.00"))
    entry = CreditEntry.objects.get(kind="write_off")
    assert entry.amount == Decimal("-90.00") and "finance" in entry.actor
    assert outpatient(card).used == 0
    assert_credit_consistent(card)
    event = case.events.get(kind=CaseEventKind.WRITTEN_OFF)
    assert (event.actor, event.amount, event.note) == (
        finance_officer,
        Decimal("90.00"),
        "deceased",
    )
    assert case.status == CaseStatus.CLOSED
    # Written off is not paid: the agreement stays suspended until staff decide.
    signed_patient.refresh_from_db()
    assert signed_patient.status == AgreementStatus.SUSPENDED


def test_resending_the_link_sends_one_sms_per_overdue_bill(case, bill, collector):
    with time_machine.travel(DAY_7 + dt.timedelta(hours=1), tick=False):
        assert cases.case_resend_links(case=case, actor=collector) == 1
        assert cases.case_resend_links(case=case, actor=collector) == 1  # asked twice
    sent = SmsMessage.objects.filter(dedup_key__startswith="case-link:")
    assert sent.count() == 2 and bill.payment_link.token in sent.first().body
    assert kinds(case).count(CaseEventKind.LINK_RESENT) == 2


def test_actions_on_a_closed_case_are_refused(case, bill, collector):
    with time_machine.travel(DAY_7 + dt.timedelta(hours=1), tick=False):
        pay(bill)
        with pytest.raises(DomainError) as refused:
            cases.case_escalate(case=case, actor=collector, note="late")
    assert refused.value.code == "case_closed"


def test_a_plan_kept_to_lowers_the_case_until_an_instalment_is_late(case, bill, collector):
    plan = _plan(case, bill, collector)
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.overdue_amount == 0  # nothing late now
    first = plan.instalments.get(number=1)
    with time_machine.travel(first.due_at + dt.timedelta(days=2), tick=False):
        overdue_sweep()
    case.refresh_from_db()
    assert case.overdue_amount == Decimal("30.00")
    assert case.oldest_due_at == first.due_at


def test_cases_go_to_collection_staff_only(case, collector, window_clerk):
    with pytest.raises(DomainError) as refused:
        cases.case_assign(case=case, agent=window_clerk, actor=collector)
    assert refused.value.code == "not_an_agent"
    cases.case_assign(case=case, agent=collector, actor=collector)
    case.refresh_from_db()
    assert case.assigned_to == collector


def test_resending_an_expired_link_makes_it_work_again(case, bill, collector, client):
    link = bill.payment_link
    later = link.expires_at + dt.timedelta(days=1)
    with time_machine.travel(later, tick=False):
        assert client.get(f"/p/{link.token}").status_code == 410
        cases.case_resend_links(case=case, actor=collector)
        assert client.get(f"/p/{link.token}").status_code == 200


def test_money_at_the_window_covers_instalments_in_order(case, bill, collector, window_clerk):
    from billing.payments.services import payment_take_at_window

    plan = _plan(case, bill, collector)
    first = plan.instalments.get(number=1)
    with time_machine.travel(first.due_at - dt.timedelta(hours=2), tick=False):
        payment_take_at_window(
            bill=bill, amount=Decimal("45.00"), method="cash", actor=window_clerk
        )
    paid = [i.paid_at is not None for i in plan.instalments.order_by("number")]
    assert paid == [True, False, False]  # 45.00 covers the first 30.00, not the second
    SmsMessage.objects.filter(template="bill_reminder").delete()
    with time_machine.travel(first.due_at + dt.timedelta(days=1, hours=-4), tick=False):
        overdue_sweep()
        reminders_send()
    case.refresh_from_db()
    assert case.overdue_amount == 0  # nothing late: the patient paid at the window
    assert not SmsMessage.objects.filter(template="bill_reminder").exists()
