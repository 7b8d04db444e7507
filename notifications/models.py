"""Notifications: events that patients are told about.

Design overview
---------------
An ``Event`` is written in the same transaction as what caused it (a visit opened, a visit
closed), with a unique ``dedup_key`` such as ``visit-closed:<visit id>``, so it exists if and
only if its cause committed, and never twice. A Celery task, enqueued on commit, processes
it; the SMS outbox built on these events arrives with the pay-by-SMS issue.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class EventKind(models.TextChoices):
    VISIT_OPENED = "visit_opened", _("Visit started")
    VISIT_CLOSED = "visit_closed", _("Visit ended")


class Event(models.Model):
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    dedup_key = models.CharField(max_length=100, unique=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("event")
        verbose_name_plural = _("events")

    def __str__(self) -> str:
        return self.dedup_key
