import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.payments.gateways import GatewayError
from billing.payments.selectors import statement_check


class Command(BaseCommand):
    help = (
        "Download a payment channel's statement of a day (yesterday, China time, unless "
        "--date says otherwise) and compare it with our books. Exits with status 1 when they "
        "differ."
    )

    def add_arguments(self, parser):
        parser.add_argument("--channel", default="sandbox", help="e.g. sandbox (default)")
        parser.add_argument(
            "--date",
            type=dt.date.fromisoformat,
            help="YYYY-MM-DD, China time (default: yesterday)",
        )
        parser.add_argument("--json", action="store_true", help="Print JSON.")

    def handle(self, *args, channel: str, date: dt.date | None, **options):
        day = date or timezone.localdate() - dt.timedelta(days=1)
        try:
            check = statement_check(channel=channel, day=day)
        except KeyError:
            raise CommandError(f"unknown channel {channel!r}") from None
        except GatewayError as error:
            raise CommandError(f"could not download the statement: {error}") from None

        def line(item) -> dict:
            return {
                "kind": item.kind,
                "out_trade_no": item.out_trade_no,
                "out_refund_no": item.out_refund_no,
                "gateway_trade_no": item.gateway_trade_no,
                "amount": str(item.amount),
                "at": item.at.isoformat(),
            }

        report = {
            "channel": channel,
            "date": day.isoformat(),
            "lines": [line(item) for item in check.lines],
            "only_at_channel": [line(item) for item in check.only_at_channel],
            "only_here": [
                {"kind": kind, "number": number, "amount": str(amount)}
                for kind, number, amount in check.only_here
            ],
            "amounts_differ": [
                {**line(item), "ours": str(ours)} for item, ours in check.amounts_differ
            ],
            "balanced": check.balanced,
        }
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False))
        else:
            for item in report["lines"]:
                number = item["out_refund_no"] or item["out_trade_no"]
                self.stdout.write(f"{item['at']} {item['kind']:<7} {number} {item['amount']}")
            for title in ("only_at_channel", "only_here", "amounts_differ"):
                for item in report[title]:
                    self.stdout.write(self.style.WARNING(f"{title}: {item}"))
            self.stdout.write(
                f"{channel} {day}: {len(check.lines)} line(s), "
                + ("balanced" if check.balanced else "NOT balanced")
            )
        if not check.balanced:
            raise SystemExit(1)
