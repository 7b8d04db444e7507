import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.figures import figures_days, figures_record


class Command(BaseCommand):
    help = (
        "Record the books at the end of a day for the management reports (what the nightly "
        "task does for yesterday). --since records every day from a date, oldest first, as "
        "a first filling; with --month-ends only each month's last day and yesterday, which "
        "is all the reports draw. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--day", type=dt.date.fromisoformat, help="one day (YYYY-MM-DD)")
        parser.add_argument("--since", type=dt.date.fromisoformat, help="from (YYYY-MM-DD)")
        parser.add_argument("--month-ends", action="store_true")

    def handle(self, *args, **options):
        yesterday = timezone.localdate() - dt.timedelta(days=1)
        if options["day"] and options["since"]:
            raise CommandError("Give --day or --since, not both.")
        if options["since"]:
            days = figures_days(options["since"], yesterday, month_ends=options["month_ends"])
        else:
            days = [options["day"] or yesterday]
        for day in days:
            if day > yesterday:
                raise CommandError(f"{day} has not ended yet.")
            rows = figures_record(day)
            self.stdout.write(f"record_figures: {day}: {rows} figure(s)")
