"""The Celery app. Tasks live in each app's tasks.py; the beat schedule in the database
(creditcare/schedule.py)."""

import os
from pathlib import Path

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditcare.settings")

app = Celery("creditcare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def ensure_broker_folders() -> None:
    """The filesystem transport needs its folders before the first message is sent."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


ensure_broker_folders()  # web processes send tasks too


@worker_init.connect
def _on_worker_init(**_: object) -> None:
    ensure_broker_folders()
