import json
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.cache import cache
from django_celery_beat.models import CrontabSchedule

from creditcare.schedule import DEFAULT_PERIODIC_TASKS, install_default_schedule
from creditcare.tasks import HEARTBEAT_CACHE_KEY, heartbeat


def test_heartbeat_records_when_beat_last_fired():
    stamp = heartbeat()
    assert cache.get(HEARTBEAT_CACHE_KEY) == stamp


def test_a_fresh_worker_knows_every_task_of_the_beat_schedule():
    # In a new process, as a worker starts: only what Celery itself imports is registered.
    script = (
        "import json, django; django.setup();"
        "from creditcare.celery import app; app.loader.import_default_modules();"
        "print(json.dumps(sorted(app.tasks)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    registered = set(json.loads(out.strip().splitlines()[-1]))
    for task, _when in DEFAULT_PERIODIC_TASKS.values():
        assert task in registered


@pytest.mark.django_db
def test_the_schedule_is_in_the_database_and_an_operators_change_stands():
    from django_celery_beat.models import PeriodicTask

    assert settings.CELERY_BEAT_SCHEDULER.startswith("django_celery_beat")
    tasks = {t.name: t for t in PeriodicTask.objects.all()}
    assert set(DEFAULT_PERIODIC_TASKS) <= set(tasks)  # created by migrate
    sweep = tasks["sweep-overdue-bills"]
    assert (sweep.task, sweep.crontab.hour, sweep.crontab.minute) == (
        "billing.tasks.sweep_overdue",
        "0",
        "5",
    )
    assert str(sweep.crontab.timezone) == "Asia/Shanghai"
    # An operator moves the sweep and disables the heartbeat; migrating again keeps that.
    sweep.crontab = CrontabSchedule.objects.create(minute="30", hour="1", timezone="Asia/Shanghai")
    sweep.save()
    PeriodicTask.objects.filter(name="heartbeat").update(enabled=False)
    assert install_default_schedule() == 0
    sweep.refresh_from_db()
    assert sweep.crontab.hour == "1"
    assert not PeriodicTask.objects.get(name="heartbeat").enabled
    # A default that is missing (deleted, or new in this release) comes back.
    PeriodicTask.objects.filter(name="send-reminders").delete()
    assert install_default_schedule() == 1


def test_codes_and_receipts_have_a_queue_of_their_own_and_batches_another():
    from creditcare.celery import app

    def queue(task: str) -> str:
        return app.amqp.router.route({}, task)["queue"].name

    assert queue("notifications.tasks.send_sms") == "sms"  # codes, receipts, payment notices
    assert queue("notifications.tasks.send_sms_chunk") == "sms-bulk"  # reminders
    assert queue("billing.tasks.send_reminders") == "celery"  # the beat's jobs
    # A worker started without -Q (make run's) consumes all three.
    assert set(app.amqp.queues.consume_from) == {"celery", "sms", "sms-bulk"}
