"""The periodic tasks, kept in the database by django-celery-beat so operators see and
change them in the admin (Periodic tasks). These are the defaults: each is created once, on
``migrate``, if a task of that name is missing; an operator's change is never overwritten
(which is why they are not in CELERY_BEAT_SCHEDULE: beat would rewrite them at each start).
"""

from django.conf import settings

# name -> (task, every N seconds | a crontab "minute hour day-of-month month day-of-week")
DEFAULT_PERIODIC_TASKS: dict[str, tuple[str, int | str]] = {
    "heartbeat": ("creditcare.tasks.heartbeat", settings.HEARTBEAT_SECONDS),
    "purge-idempotency-keys": ("billing.tasks.purge_idempotency_records", "17 * * * *"),
    "reconcile-stuck-sms": ("notifications.tasks.reconcile_stuck_sms", 120),
    "settle-pending-payments": ("billing.tasks.settle_pending_payments", 60),
    "query-unknown-refunds": ("billing.tasks.query_unknown_refunds", "20 9 * * *"),
    "sweep-overdue-bills": ("billing.tasks.sweep_overdue", "5 0 * * *"),
    "send-reminders": ("billing.tasks.send_reminders", "*/30 * * * *"),
    "recompute-credit-limits": ("billing.tasks.recompute_credit_limits", "30 2 * * *"),
    "reconcile-statements": ("billing.tasks.reconcile_statements", "30 6 * * *"),
    "check-alerts": ("billing.tasks.check_alerts", 300),
    "build-settlement-statements": ("billing.tasks.build_settlement_statements", "0 7 * * *"),
    "deliver-due-webhooks": ("webhooks.tasks.deliver_due_webhooks", 60),
    "issue-due-einvoices": ("billing.tasks.issue_due_einvoices", 60),
    # Yesterday's books, once its last transactions have committed.
    "record-daily-figures": ("billing.tasks.record_daily_figures", "30 0 * * *"),
}


def install_default_schedule(**_: object) -> int:
    """Create the default periodic tasks that are missing. Returns how many were created."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    created = 0
    for name, (task, when) in DEFAULT_PERIODIC_TASKS.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        if isinstance(when, int):
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=when, period=IntervalSchedule.SECONDS
            )
            PeriodicTask.objects.create(name=name, task=task, interval=interval)
        else:
            minute, hour, day_of_month, month_of_year, day_of_week = when.split()
            crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=minute,
                hour=hour,
                day_of_month=day_of_month,
                month_of_year=month_of_year,
                day_of_week=day_of_week,
                timezone=settings.TIME_ZONE,
            )
            PeriodicTask.objects.create(name=name, task=task, crontab=crontab)
        created += 1
    return created
