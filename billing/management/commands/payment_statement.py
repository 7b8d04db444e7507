import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.models import DifferenceKind
from billing.payments.gateways import GatewayError
from billing.payments.reconciliation import channels_to_reconcile, reconciliation_run
from billing.payments.selectors import Comparison, statement_check

AT_CHANNEL_ONLY = {
    DifferenceKind.MISSING_HERE,
    DifferenceKind.REFUND_MISSING_HERE,
    DifferenceKind.DUPLICATE,
}
HERE_ONLY = {
    DifferenceKind.MISSING_AT_CHANNEL: "payment",
    DifferenceKind.REFUND_MISSING_AT_CHANNEL: "refund",
}


class Command(BaseCommand):
    help = (
        "Download a payment channel's statement of a day (yesterday, China time, unless "
        "--date says otherwise) and compare it with our books. Exits with status 1 when they "
        "differ. --store keeps the run and its differences for finance (as the morning's "
        "task does); --all-channels does every configured channel."
    )

    def add_arguments(self, parser):
        parser.add_argument("--channel", default="sandbox", help="e.g. sandbox (default)")
        parser.add_argument("--all-channels", action="store_true", help="every configured channel")
        parser.add_argument(
            "--date",
            type=dt.date.fromisoformat,
            help="YYYY-MM-DD, China time (default: yesterday)",
        )
        parser.add_argument(
            "--store", action="store_true", help="store the run and its differences"
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print JSON (with --all-channels, a list of one report per channel).",
        )

    def handle(self, *args, channel: str, date: dt.date | None, **options):
        day = date or timezone.localdate() - dt.timedelta(days=1)
        channels = channels_to_reconcile() if options["all_channels"] else [channel]
        reports = [self.report(c, day, store=options["store"]) for c in channels]
        if options["json"]:
            out = reports if options["all_channels"] else reports[0]
            self.stdout.write(json.dumps(out, ensure_ascii=False))
        else:
            for report in reports:
                self.write_text(report)
        if not all(report["balanced"] for report in reports):
            raise SystemExit(1)

    def report(self, channel: str, day: dt.date, *, store: bool) -> dict:
        try:
            if store:
                run, check = reconciliation_run(channel=channel, day=day)
            else:
                run, check = None, statement_check(channel=channel, day=day)
        except KeyError:
            raise CommandError(f"unknown channel {channel!r}") from None
        except GatewayError as error:
            raise CommandError(f"could not download the statement: {error}") from None
        return {
            "channel": channel,
            "date": day.isoformat(),
            "lines": [_line(item) for item in check.lines],
            **_by_contract(check),
            "differences": [
                {
                    "kind": d.kind,
                    "key": d.key,
                    "out_trade_no": d.out_trade_no,
                    "out_refund_no": d.out_refund_no,
                    "channel_amount": _money(d.channel_amount),
                    "our_amount": _money(d.our_amount),
                }
                for d in check.differences
            ],
            "balanced": check.balanced,
            **({"run": run.pk, "run_status": run.status} if run else {}),
        }

    def write_text(self, report: dict) -> None:
        for item in report["lines"]:
            number = item["out_refund_no"] or item["out_trade_no"]
            self.stdout.write(f"{item['at']} {item['kind']:<7} {number} {item['amount']}")
        for title in ("only_at_channel", "only_here", "amounts_differ"):
            for item in report[title]:
                self.stdout.write(self.style.WARNING(f"{title}: {item}"))
        self.stdout.write(
            f"{report['channel']} {report['date']}: {len(report['lines'])} line(s), "
            + ("balanced" if report["balanced"] else "NOT balanced")
            + (f" (run {report['run']}: {report['run_status']})" if "run" in report else "")
        )


def _line(item) -> dict:
    return {
        "kind": item.kind,
        "out_trade_no": item.out_trade_no,
        "out_refund_no": item.out_refund_no,
        "gateway_trade_no": item.gateway_trade_no,
        "amount": str(item.amount),
        "at": item.at.isoformat(),
    }


def _money(amount) -> str | None:
    return None if amount is None else str(amount)


def _by_contract(check: Comparison) -> dict:
    """The differences under the report's first keys: what the channel has and we lack,
    what we have and the channel lacks, and amounts that differ."""
    return {
        "only_at_channel": [_line(d.line) for d in check.differences if d.kind in AT_CHANNEL_ONLY],
        "only_here": [
            {
                "kind": HERE_ONLY[d.kind],
                "number": d.out_refund_no or d.out_trade_no,
                "amount": str(d.our_amount),
            }
            for d in check.differences
            if d.kind in HERE_ONLY
        ],
        "amounts_differ": [
            {**_line(d.line), "ours": str(d.our_amount)}
            for d in check.differences
            if d.kind == DifferenceKind.AMOUNT
        ],
    }
