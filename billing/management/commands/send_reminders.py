import datetime as dt

from django.core.management.base import BaseCommand
from django.utils import timezone

from billing.collections.reminders import in_sending_hours, reminders_send
from billing.management.commands.sweep_overdue import end_of_day
from creditcare.batching import ProgressBar


class Command(BaseCommand):
    help = (
        "Queue the reminder SMS that are due (what the half-hourly task does): each step once "
        "per bill, only the latest due step, nothing outside sending hours. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date",
            type=dt.date.fromisoformat,
            help="YYYY-MM-DD: the steps due by the end of that day (default: now)",
        )

    def handle(self, *args, date: dt.date | None, **options):
        if not in_sending_hours(timezone.now()):
            self.stdout.write("send_reminders: 0 message(s) queued (outside sending hours)")
            return
        bar = ProgressBar("send_reminders")
        queued = reminders_send(as_of=end_of_day(date), progress=bar)
        bar.close()
        self.stdout.write(f"send_reminders: {queued} message(s) queued")
