"""A real Celery worker on Redis picks the SMS up after the commit and sends it once."""

import time

import pytest
from django.db import transaction

from notifications.backends import locmem
from notifications.models import SmsMessage, SmsStatus
from notifications.services import sms_queue
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
