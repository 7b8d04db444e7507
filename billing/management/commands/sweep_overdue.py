import datetime as dt

from django.core.management.base import BaseCommand
from django.utils import timezone

from billing.collections.sweep import overdue_sweep
from creditcare.batching import ProgressBar


def end_of_day(day: dt.date | None) -> dt.datetime | None:
    """``--date D``: as of the end of day D, China time (never later than now)."""
    if day is None:
        return None
    tz = timezone.get_default_timezone()
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tz)
    return min(end - dt.timedelta(microseconds=1), timezone.now())


class Command(BaseCommand):
    help = (
        "Mark unpaid bills past their due time overdue, suspend or reactivate agreements and "
        "lower limits (what the daily task does). Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date",
            type=dt.date.fromisoformat,
            help="YYYY-MM-DD: as of the end of that day, China time (default: now)",
        )

    def handle(self, *args, date: dt.date | None, **options):
        bar = ProgressBar("sweep_overdue")
        result = overdue_sweep(as_of=end_of_day(date), progress=bar)
        bar.close()
        self.stdout.write(f"sweep_overdue: {result.summary()}")
