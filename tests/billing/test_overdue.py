"""Overdue bills through time: the sweep, reminders day by day, suspension and automatic
reactivation, limits falling on overdue and rising after on-time streaks."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.test import override_settings

from accounts.models import AgreementEvent, AgreementStatus, CreditLimitChange
from billing.collections.reminders import reminders_send
from billing.collections.sweep import overdue_sweep
from billing.models import Bill, BillStatus, PaymentLink
from billing.payments.gateways.sandbox import SandboxGateway
from billing.payments.services import payment_notified, payment_start
from billing.tasks import send_reminders, sweep_overdue
from notifications.models import SmsMessage, SmsStatus
from notifications.services import sms_send
from tests.billing.test_api import assert_credit_consistent, outpatient, settlement

pytestmark = pytest.mark.django_db

CHINA = zoneinfo.ZoneInfo("Asia/Shanghai")
CLOSED = dt.datetime(2026, 3, 2, 10, 0, tzinfo=CHINA)  # outpatient: due 48 h later
DUE = CLOSED + dt.timedelta(hours=48)  # 2026-03-04 10:00


def bill_closed_at(his, card, when: dt.datetime, visit_id: str = "V1", amount="35.00") -> Bill:
    with time_machine.travel(when, tick=False):
        visit = his.open_visit(card, his_visit_id=visit_id)
        his.charge(visit["id"], "L1", amount)
        response = his.post(f"visits/{visit['id']}/close/", settlement(amount, amount))
        assert response.status_code == 200, response.json()
    return Bill.objects.get(visit_id=visit["id"])


def pay(bill: Bill) -> None:
    payment, _url = payment_start(link=PaymentLink.objects.get(bill=bill), channel="sandbox")
    gateway = SandboxGateway()
    payment_notified(
        channel="sandbox",
        notification=gateway.parse_fields(gateway.checkout(payment, "PAID")),
    )


def reminders() -> list[tuple[str, str]]:
    """(local time queued, step) of every reminder, in order."""
    return [
        (m.created_at.astimezone(CHINA).strftime("%m-%d %H:%M"), m.dedup_key.rsplit(":", 1)[1])
        for m in SmsMessage.objects.filter(template="bill_reminder").order_by("pk")
    ]


def run_beat(clock, until: dt.datetime, every=dt.timedelta(hours=2), after=None) -> None:
    """Beat firing every two hours (twice each time: a doubled beat), the sweep at 00:05."""
    while (now := dt.datetime.now(CHINA)) < until:
        if now.hour == 0 and now.minute == 0:
            clock.move_to(now.replace(minute=5))
            sweep_overdue()
            sweep_overdue()
            clock.move_to(now)
        send_reminders()
        send_reminders()
        if after:
            after(now)
        clock.shift(every)


@pytest.fixture
def bill(his, card) -> Bill:
    return bill_closed_at(his, card, CLOSED)


def test_a_bill_gets_each_reminder_once_on_its_day_in_sending_hours(bill):
    with time_machine.travel(CLOSED, tick=False) as clock:
        run_beat(clock, until=DUE + dt.timedelta(days=31))
    assert reminders() == [
        ("03-03 10:00", "-24h"),  # 24 hours before the due time
        ("03-05 08:00", "1d"),  # its day came at midnight: held until 08:00
        ("03-07 08:00", "3d"),
        ("03-11 08:00", "7d"),
        ("03-18 08:00", "14d"),
        ("04-03 08:00", "30d"),
    ]
    texts = list(SmsMessage.objects.filter(template="bill_reminder").order_by("pk"))
    link = f"/p/{bill.payment_link.token}"
    assert all(link in m.body and "35.00" in m.body for m in texts)
    assert "30" in texts[-1].body and "3" in texts[2].body
    bill.refresh_from_db()
    assert bill.status == BillStatus.OVERDUE


def test_no_reminder_after_the_bill_is_paid(bill, card):
    def pay_on_day_8(now):
        if now == DUE + dt.timedelta(days=8):
            pay(bill)

    with time_machine.travel(CLOSED, tick=False) as clock:
        run_beat(clock, until=DUE + dt.timedelta(days=31), after=pay_on_day_8)
    assert [step for _, step in reminders()] == ["-24h", "1d", "3d", "7d"]
    bill.refresh_from_db()
    assert bill.status == BillStatus.PAID
    assert outpatient(card).used == 0
    assert_credit_consistent(card)


def test_a_missed_beat_catches_up_with_the_latest_step_only(bill):
    with time_machine.travel(DUE + dt.timedelta(days=5, hours=-1), tick=False):  # day 5, 09:00
        assert reminders_send() == 1
        assert reminders_send() == 0  # and only once
    assert [step for _, step in reminders()] == ["3d"]
    assert "5" in SmsMessage.objects.get(template="bill_reminder").body  # 5 days overdue


def test_nothing_is_queued_in_quiet_hours(bill):
    with time_machine.travel(DUE + dt.timedelta(days=1, hours=11), tick=False):  # 21:00
        assert reminders_send() == 0
    with time_machine.travel(DUE + dt.timedelta(days=1, hours=-3), tick=False):  # 07:00
        assert reminders_send() == 0
    assert reminders() == []


def test_a_reminder_for_a_bill_paid_before_it_went_out_is_cancelled(bill):
    with time_machine.travel(DUE + dt.timedelta(days=1), tick=False):
        reminders_send()  # queued; the worker has not picked it up yet
        message = SmsMessage.objects.get(template="bill_reminder")
        pay(bill)
        sms_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == SmsStatus.CANCELLED and message.attempts == 0


# --- the sweep and its consequences ------------------------------------------------------


def test_the_sweep_marks_overdue_once_and_changes_nothing_the_second_time(bill, his, card):
    later = bill_closed_at(his, card, CLOSED + dt.timedelta(days=3), visit_id="V2")
    with time_machine.travel(DUE + dt.timedelta(minutes=1), tick=False):
        first = overdue_sweep()
        second = overdue_sweep()
    assert first.bills == 1 and first.suspended == 1
    assert (second.bills, second.suspended, second.reactivated, second.limits) == (0, 0, 0, 0)
    bill.refresh_from_db()
    later.refresh_from_db()
    assert (bill.status, later.status) == (BillStatus.OVERDUE, BillStatus.UNPAID)


def test_an_overdue_bill_suspends_until_everything_overdue_is_paid(bill, his, card, signed_patient):
    agreement = signed_patient
    new_visit = {"citizen_card": card, "kind": "outpatient", "his_visit_id": "V3"}
    second = bill_closed_at(his, card, CLOSED, visit_id="V2", amount="20.00")
    with time_machine.travel(DUE + dt.timedelta(hours=1), tick=False):
        overdue_sweep()
        agreement.refresh_from_db()
        assert agreement.status == AgreementStatus.SUSPENDED and agreement.suspended_for_overdue
        refused = his.post("visits/", new_visit)
        assert (refused.status_code, refused.json()["code"]) == (422, "agreement_suspended")

        pay(bill)  # one of two overdue bills
        agreement.refresh_from_db()
        assert agreement.status == AgreementStatus.SUSPENDED

        pay(second)  # the last one: reactivated at once, no sweep needed
        agreement.refresh_from_db()
        assert agreement.status == AgreementStatus.ACTIVE and not agreement.suspended_for_overdue
        event = AgreementEvent.objects.filter(agreement=agreement).latest("pk")
        assert (event.transition, event.actor, event.reason) == (
            "reactivate",
            None,
            "overdue bills paid",
        )
        assert his.post("visits/", new_visit).status_code == 201


def test_a_suspension_by_staff_is_not_lifted_by_paying(bill, signed_patient):
    from accounts.services import agreement_suspend

    with time_machine.travel(DUE + dt.timedelta(hours=1), tick=False):
        agreement_suspend(agreement=signed_patient, actor=None, reason="fraud check")
        pay(bill)
        overdue_sweep()
    signed_patient.refresh_from_db()
    assert signed_patient.status == AgreementStatus.SUSPENDED


@override_settings(OVERDUE_SUSPEND_GRACE_HOURS=48)
def test_the_grace_period_delays_suspension(bill, signed_patient):
    with time_machine.travel(DUE + dt.timedelta(hours=47), tick=False):
        overdue_sweep()
    signed_patient.refresh_from_db()
    assert signed_patient.status == AgreementStatus.ACTIVE
    with time_machine.travel(DUE + dt.timedelta(hours=48), tick=False):
        assert overdue_sweep().suspended == 1


@override_settings(OVERDUE_SUSPEND_GRACE_HOURS=48)
def test_paying_the_bill_that_suspended_does_not_reactivate_while_another_is_overdue(
    his, card, signed_patient
):
    first = bill_closed_at(his, card, CLOSED, "V1")
    second = bill_closed_at(his, card, CLOSED + dt.timedelta(days=2), "V2")  # due DUE + 48 h
    with time_machine.travel(DUE + dt.timedelta(hours=48), tick=False):
        assert overdue_sweep().suspended == 1  # the first, past its grace
    with time_machine.travel(DUE + dt.timedelta(hours=49), tick=False):
        pay(first)  # the second is overdue too, still within its grace
    signed_patient.refresh_from_db()
    assert signed_patient.status == AgreementStatus.SUSPENDED
    with time_machine.travel(DUE + dt.timedelta(hours=50), tick=False):
        pay(second)
    signed_patient.refresh_from_db()
    assert signed_patient.status == AgreementStatus.ACTIVE


def test_limits_fall_on_overdue_and_the_history_says_why(bill, card):
    before = outpatient(card).limit
    with time_machine.travel(DUE + dt.timedelta(hours=1), tick=False):
        assert overdue_sweep().limits >= 1
    line = outpatient(card)
    assert line.limit == before * Decimal("0.75")  # late_cut_ratio 0.25 of the base
    change = CreditLimitChange.objects.filter(credit_line=line).latest("pk")
    assert "overdue" in change.reason and change.new_limit == line.limit


def test_limits_rise_after_an_on_time_streak(his, card):
    base = outpatient(card).limit
    for number in range(3):
        paid_on_time = bill_closed_at(his, card, CLOSED + dt.timedelta(days=number), f"V{number}")
        with time_machine.travel(CLOSED + dt.timedelta(days=number, hours=1), tick=False):
            pay(paid_on_time)
    call_command("recompute_limits")
    line = outpatient(card)
    assert line.limit == base * Decimal("1.10")  # +1 step of 10% per 3 on-time repayments
    assert (
        "3 on-time repayments"
        in CreditLimitChange.objects.filter(credit_line=line).latest("pk").reason
    )


# --- the commands --------------------------------------------------------------------------


def test_the_commands_print_a_summary_line(bill, capsys):
    with time_machine.travel(DUE + dt.timedelta(days=1, hours=1), tick=False):  # 11:00
        call_command("sweep_overdue")
        call_command("sweep_overdue", "--date", "2026-03-05")  # a day already done
        call_command("send_reminders")
        call_command("send_reminders", "--date", "2026-03-05")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "sweep_overdue: 1 bill(s) marked overdue, 1 agreement(s) suspended, 0 reactivated, "
        "2 limit(s) changed, 0 case(s) opened, 0 closed, 0 promise(s) broken"
    )
    assert out[1].startswith("sweep_overdue: 0 bill(s) marked overdue, 0 agreement(s)")
    assert out[2:] == ["send_reminders: 1 message(s) queued", "send_reminders: 0 message(s) queued"]


def test_sweep_for_a_past_date_only_marks_what_was_due_by_then(bill, his, card, capsys):
    bill_closed_at(his, card, CLOSED + dt.timedelta(days=5), visit_id="V2")  # due 03-09
    with time_machine.travel(DUE + dt.timedelta(days=10), tick=False):
        call_command("sweep_overdue", "--date", "2026-03-04")
    assert capsys.readouterr().out.startswith("sweep_overdue: 1 bill(s) marked overdue")
    assert Bill.objects.filter(status=BillStatus.OVERDUE).count() == 1


def test_a_reminder_whose_send_slips_into_quiet_hours_waits_for_the_morning(bill):
    from notifications.services import sms_reconcile_stuck

    evening = DUE + dt.timedelta(days=1, hours=10, minutes=50)  # 03-05 20:50
    with time_machine.travel(evening, tick=False) as clock:
        reminders_send()
        message = SmsMessage.objects.get(template="bill_reminder")
        clock.shift(dt.timedelta(minutes=15))  # the worker gets to it at 21:05
        sms_send(message_id=message.pk)
        message.refresh_from_db()
        assert message.status == SmsStatus.QUEUED and message.attempts == 0
        assert message.not_before == dt.datetime(2026, 3, 6, 8, 0, tzinfo=CHINA)
        clock.move_to(dt.datetime(2026, 3, 6, 7, 0, tzinfo=CHINA))
        sms_reconcile_stuck()
        message.refresh_from_db()
        assert message.status == SmsStatus.QUEUED  # not yet
        clock.move_to(dt.datetime(2026, 3, 6, 8, 5, tzinfo=CHINA))
        sms_reconcile_stuck()  # the sweep sends it (tasks run inline in the tests)
    message.refresh_from_db()
    assert message.status == SmsStatus.SENT
    assert message.sent_at.astimezone(CHINA).hour == 8
