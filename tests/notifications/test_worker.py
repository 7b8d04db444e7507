"""A real Celery worker on Redis picks the SMS up after the commit and sends it once."""

import time

import pytest
from django.db import transaction

from notifications.backends import locmem
from notifications.models import SmsMessage, SmsStatus
from notifications.services import Sms, sms_queue, sms_queue_many
from tests.threads import wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
]


def test_the_worker_sends_after_commit_exactly_once(celery_worker):
    from celery.worker import state

    locmem.outbox.clear()
    handled_before = state.total_count.get("notifications.tasks.send_sms", 0)
    with transaction.atomic():
        message = sms_queue(
            to="+8613812345678",
            template="visit_started",
            context={"patient_name": "张伟", "institution": "第一人民医院"},
            dedup_key="visit-opened:worker-test",
        )
        time.sleep(0.3)
        assert locmem.outbox == []  # not before the commit
    assert wait_for(lambda: SmsMessage.objects.get(pk=message.pk).status == SmsStatus.SENT), (
        SmsMessage.objects.get(pk=message.pk).status
    )
    assert state.total_count["notifications.tasks.send_sms"] > handled_before  # via the broker

    # The same task delivered again (a redelivery after a lost ack) sends nothing more.
    from notifications.tasks import send_sms

    send_sms.delay(message.pk)
    assert wait_for(lambda: state.total_count["notifications.tasks.send_sms"] >= handled_before + 2)
    assert len(locmem.outbox) == 1
    assert SmsMessage.objects.get(pk=message.pk).attempts == 1


def test_a_batch_goes_out_through_the_bulk_queue(celery_worker):
    from celery.worker import state

    locmem.outbox.clear()
    handled_before = state.total_count.get("notifications.tasks.send_sms_chunk", 0)
    context = {"patient_name": "张伟", "institution": "第一人民医院"}
    with transaction.atomic():
        ids = sms_queue_many(
            [
                Sms(
                    to=f"+86138000000{n}",
                    template="visit_started",
                    context=context,
                    dedup_key=f"worker-batch:{n}",
                )
                for n in range(3)
            ]
        )
    sent = SmsMessage.objects.filter(pk__in=ids, status=SmsStatus.SENT)
    assert wait_for(lambda: sent.count() == 3)
    assert state.total_count["notifications.tasks.send_sms_chunk"] == handled_before + 1
    assert len(locmem.outbox) == 3
