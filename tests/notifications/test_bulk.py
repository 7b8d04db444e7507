"""The outbox in bulk: many messages in one statement, each written and sent once."""

import datetime as dt
from dataclasses import asdict, replace
from itertools import count
from urllib.parse import parse_qs

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.backends import locmem
from notifications.models import SmsMessage, SmsStatus
from notifications.services import (
    Sms,
    send_sms_chunk,
    sms_queue,
    sms_queue_many,
    sms_reconcile_stuck,
)
from tests.fake_http import Answer
from tests.notifications.test_outbox import PHONE, twilio  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_phone_network():
    locmem.outbox.clear()


def visit_started(key: str, to: str = PHONE, **fields) -> Sms:
    context = {"patient_name": "张伟", "institution": "第一人民医院"}
    return Sms(to=to, template="visit_started", context=context, dedup_key=key, **fields)


def test_a_message_written_in_bulk_is_the_row_sms_queue_writes():
    with time_machine.travel(dt.datetime(2026, 3, 4, 9, 0, tzinfo=dt.UTC), tick=False):
        alone = sms_queue(**asdict(visit_started("alone", language="en")))
        (bulk_id,) = sms_queue_many([visit_started("bulk", language="en")])
    bulk = SmsMessage.objects.get(pk=bulk_id)
    fields = [f.attname for f in SmsMessage._meta.concrete_fields]
    differ = {f for f in fields if getattr(alone, f) != getattr(bulk, f)}
    assert differ == {"id", "dedup_key", "bulk"}  # bulk: sent from the sms-bulk queue
    assert "visit" in bulk.body and bulk.status == SmsStatus.QUEUED
    assert bulk.bulk and not alone.bulk


def test_a_batch_in_two_languages_gets_each_text_in_its_own_in_order():
    batch = [
        visit_started("zh-1"),
        visit_started("en-1", language="en"),
        visit_started("en-2", language="en"),
        visit_started("zh-2"),
    ]
    ids = sms_queue_many(batch)
    written = list(SmsMessage.objects.filter(pk__in=ids).order_by("pk"))
    assert [m.dedup_key for m in written] == ["zh-1", "en-1", "en-2", "zh-2"]
    assert [m.language for m in written] == ["zh-hans", "en", "en", "zh-hans"]
    assert all(("visit" in m.body) == (m.language == "en") for m in written)
    # Each text is the one sms_queue writes for the same message.
    for message, sms in zip(written, batch, strict=True):
        alone = sms_queue(**asdict(replace(sms, dedup_key=f"alone-{sms.dedup_key}")))
        assert message.body == alone.body


def test_keys_already_written_are_skipped_and_each_message_is_sent_once(
    django_capture_on_commit_callbacks,
):
    first = sms_queue(**asdict(visit_started("k1")))
    batch = [visit_started(k, to=f"+86138000000{n}") for n, k in enumerate(["k1", "k2", "k2"])]
    batch.append(visit_started("k3"))
    with django_capture_on_commit_callbacks(execute=True) as sent:
        ids = sms_queue_many(batch)
    written = SmsMessage.objects.filter(pk__in=ids)
    assert sorted(written.values_list("dedup_key", flat=True)) == ["k2", "k3"]
    assert SmsMessage.objects.count() == 3 and first.pk not in ids
    assert len(sent) == 1  # one chunk task, run inline here
    assert sorted(m["reference"] for m in locmem.outbox) == ["k2", "k3"]

    # The same batch again (a second beat) writes and sends nothing.
    with django_capture_on_commit_callbacks(execute=True) as sent:
        assert sms_queue_many(batch) == []
    assert sent == []
    # A chunk delivered twice by the broker sends nothing twice.
    send_sms_chunk.delay(ids)
    assert len(locmem.outbox) == 2
    assert set(written.values_list("status", "attempts")) == {(SmsStatus.SENT, 1)}


def test_one_insert_per_thousand_messages_and_one_task_per_hundred(
    django_capture_on_commit_callbacks,
):
    batch = [visit_started(f"many:{n}", to=f"+8613{n:09d}") for n in range(2500)]
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks() as tasks,
    ):
        ids = sms_queue_many(batch)
    assert len(ids) == 2500 == SmsMessage.objects.filter(pk__in=ids).count()
    assert [q["sql"].split()[0] for q in queries] == ["INSERT"] * 3
    assert len(tasks) == 25


def test_a_chunk_retries_only_the_messages_the_provider_turned_away(twilio):  # noqa: F811
    sids, busy_once = count(), {"+8613800000001"}

    def respond(request):
        to = parse_qs(request.body.decode())["To"][0]
        if to in busy_once:
            busy_once.discard(to)
            return Answer(503, {"code": 20503, "message": "busy", "status": 503})
        return Answer(201, {"sid": f"SM{next(sids):032d}", "status": "queued", "to": to})

    twilio.respond = respond
    ids = sms_queue_many([visit_started(f"r{n}", to=f"+861380000000{n}") for n in range(3)])
    send_sms_chunk.delay(ids)  # inline in the tests: its retry too, at once
    messages = SmsMessage.objects.filter(pk__in=ids).order_by("pk")
    assert [(m.status, m.attempts) for m in messages] == [
        (SmsStatus.SENT, 1),
        (SmsStatus.SENT, 2),
        (SmsStatus.SENT, 1),
    ]
    assert len(twilio.requests) == 4


def test_the_sweep_sends_each_message_again_on_the_queue_it_was_first_sent_on(published):
    morning = dt.datetime(2026, 3, 4, 8, 0, tzinfo=dt.UTC)
    with time_machine.travel(morning, tick=False) as clock:
        batch = sms_queue_many([visit_started(f"b{n}", to=f"+8613{n:09d}") for n in range(650)])
        code = sms_queue(**asdict(visit_started("code")))  # its task lost with the broker
        lost = batch[0]  # a worker died sending it (not at the provider)
        SmsMessage.objects.filter(pk=lost).update(
            status=SmsStatus.SENDING, claimed_at=timezone.now()
        )
        clock.shift(dt.timedelta(minutes=10))
        sms_reconcile_stuck()
    # The code is not held up behind 649 older reminders, and goes alone on its own queue;
    # the reminders go in chunks on theirs, the one lost in sending too, once.
    assert published[0] == ("notifications.tasks.send_sms", "sms", [code.pk])
    chunks = [args[0] for task, queue, args in published[1:]]
    assert {(task, queue) for task, queue, _ in published[1:]} == {
        ("notifications.tasks.send_sms_chunk", "sms-bulk")
    }
    assert [len(c) for c in chunks] == [100] * 5
    assert sorted(pk for chunk in chunks for pk in chunk) == batch[:500]
