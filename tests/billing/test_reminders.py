"""Reminders in bulk: the statements grow with the chunks, not the bills; once per step."""

import datetime as dt
import secrets
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.family import family_payer_add
from billing.collections.reminders import REMINDER_CHUNK, reminder_text_context, reminders_send
from billing.models import Bill, PaymentLink, Visit
from notifications.models import SmsMessage
from notifications.services import Sms, sms_reconcile_stuck, sms_send
from tests.billing.test_overdue import CHINA, CLOSED, DUE, bill_closed_at

pytestmark = pytest.mark.django_db

LATE = DUE + dt.timedelta(days=1, hours=1)  # 03-05 11:00, in sending hours: the 1d step


def copies(bill: Bill, n: int) -> list[Bill]:
    """``n`` more bills like ``bill`` (same patient, amounts, due time), each with its visit
    and payment link: written in bulk, as the HIS would take hours to."""
    visit = bill.visit
    visits = []
    for i in range(n):
        copy = Visit.objects.get(pk=visit.pk)
        copy.pk, copy.his_visit_id = None, f"copy-{i}"
        visits.append(copy)
    bills = []
    for copy in Visit.objects.bulk_create(visits):
        other = Bill.objects.get(pk=bill.pk)
        other.pk, other.visit_id = None, copy.pk
        bills.append(other)
    bills = Bill.objects.bulk_create(bills)
    expires_at = PaymentLink.objects.get(bill=bill).expires_at
    PaymentLink.objects.bulk_create(
        PaymentLink(bill_id=b.pk, token=secrets.token_urlsafe(24), expires_at=expires_at)
        for b in bills
    )
    return bills


def test_statements_grow_with_the_chunks_not_the_bills(his, card):
    bill = bill_closed_at(his, card, CLOSED)
    others = copies(bill, 1499)  # 1,500 bills: two chunks
    with time_machine.travel(LATE, tick=False):
        with CaptureQueriesContext(connection) as queries:
            assert reminders_send() == 1500
        # Once per bill and step: a second run (a doubled beat) queues nothing more.
        assert reminders_send() == 0
    chunks = -(-1500 // REMINDER_CHUNK)
    inserts = [q for q in queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == chunks
    # What is due: a statement per step and kind (12); each chunk: the bills with their
    # links, the patients' family payers, the INSERT and its savepoint.
    assert len(queries) <= 12 + 5 * chunks
    reminders = SmsMessage.objects.filter(template="bill_reminder")
    assert reminders.count() == 1500
    for one in [bill, others[-1]]:  # each with its own link
        body = reminders.get(dedup_key=f"reminder:{one.pk}:1d").body
        assert one.payment_link.token in body


def test_a_reminder_in_a_batch_says_what_one_sent_alone_says(his, card):
    bill = bill_closed_at(his, card, CLOSED, amount="35.00")
    Bill.objects.filter(pk=bill.pk).update(paid_amount=Decimal("10.00"))  # paid in part
    with time_machine.travel(LATE, tick=False):
        assert reminders_send() == 1
        bill.refresh_from_db()
        alone = Sms(
            to=bill.patient.phone,
            template="bill_reminder",
            context=reminder_text_context(
                bill=bill, amount=bill.amount_due, link=bill.payment_link, now=timezone.now()
            ),
            dedup_key="alone",
        ).message()
    batch = SmsMessage.objects.get(dedup_key=f"reminder:{bill.pk}:1d")
    assert (batch.to, batch.body, batch.language) == (alone.to, alone.body, alone.language)
    assert batch.to == str(bill.patient.phone)
    assert "25.00" in batch.body and bill.payment_link.token in batch.body


def test_a_family_member_who_pays_gets_a_copy(his, card, signed_patient):
    family_payer_add(patient=signed_patient.patient, phone="+8613911112222")
    bill = bill_closed_at(his, card, CLOSED)
    with time_machine.travel(LATE, tick=False):
        assert reminders_send() == 2
        assert reminders_send() == 0  # once each
    copy = SmsMessage.objects.get(template="bill_reminder", to="+8613911112222")
    assert copy.dedup_key == f"reminder:{bill.pk}:1d:family:+8613911112222"
    assert signed_patient.patient.name in copy.body and bill.payment_link.token in copy.body
    assert "您的家人" in copy.body  # SMS are in Chinese


def test_reminders_held_until_morning_go_back_in_chunks_on_the_bulk_queue(his, card, published):
    bill = bill_closed_at(his, card, CLOSED)
    copies(bill, 2)
    with time_machine.travel(LATE.replace(hour=20, minute=50), tick=False) as clock:
        assert reminders_send() == 3
        reminders = SmsMessage.objects.filter(template="bill_reminder").order_by("pk")
        ids = list(reminders.values_list("pk", flat=True))
        clock.shift(dt.timedelta(minutes=15))  # the workers get to them at 21:05: held
        for message_id in ids:
            sms_send(message_id=message_id)
        assert {m.not_before.astimezone(CHINA).hour for m in reminders} == {8}
        clock.move_to(dt.datetime(2026, 3, 6, 8, 5, tzinfo=CHINA))
        sms_reconcile_stuck()
    # One chunk on the bulk queue; on the queue of codes and receipts only the visit's own
    # messages (their tasks were never enqueued in this test).
    assert [p for p in published if p[1] == "sms-bulk"] == [
        ("notifications.tasks.send_sms_chunk", "sms-bulk", [ids])
    ]
    singles = {args[0] for task, queue, args in published if queue == "sms"}
    assert singles and not singles & set(ids)
