from django.core.cache import cache

from creditcare.celery import app
from creditcare.tasks import HEARTBEAT_CACHE_KEY, heartbeat


def test_heartbeat_records_when_beat_last_fired():
    stamp = heartbeat()
    assert cache.get(HEARTBEAT_CACHE_KEY) == stamp


def test_beat_schedule_names_registered_tasks():
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks
