import json
import subprocess
import sys

from django.conf import settings
from django.core.cache import cache

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
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in registered
