"""Management's reports: a few aggregate queries each, over a date range and optionally one
institution. Each report is a ``Report``: a chart's series and the same figures as a table
(shown under the chart and downloaded as CSV)."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DateField,
    DurationField,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, TruncDay, TruncMonth
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from accounts.models import CreditAgreement, CreditPool, Institution, SigningChannel
from billing.collections.cases import buckets as collection_buckets
from billing.models import (
    MONEY_TAKEN,
    Bill,
    BillStatus,
    DailyFigure,
    DailyVisitCount,
    FigureMeasure,
    Payment,
    Visit,
)
from billing.payments.gateways import channel_name
from billing.payments.selectors import day_bounds
from creditcare.money import ZERO
from notifications.models import SmsMessage, SmsStatus

AGE_BANDS = [(0, 17), (18, 39), (40, 59), (60, 74), (75, None)]


@dataclass(frozen=True)
class Period:
    """The reports' filters: from ``start`` to ``end`` (days, China time, both included),
    of one institution or all."""

    start: dt.date
    end: dt.date
    institution: Institution | None = None

    @property
    def since(self) -> dt.datetime:
        """The period's first moment, China time."""
        return day_bounds(self.start)[0]

    @property
    def until(self) -> dt.datetime:
        """The moment after the period's last."""
        return day_bounds(self.end)[1]

    def bounds(self, field_name: str) -> Q:
        """``field_name`` (a time) within the period."""
        return Q(**{f"{field_name}__gte": self.since, f"{field_name}__lt": self.until})


@dataclass
class Report:
    key: str
    title: str
    kind: str  # how Chart.js draws it: "bar", "line"
    labels: list[str]  # the x axis
    series: list[dict]  # [{"name": ..., "values": [...]}], one value per label
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    stacked: bool = False
    percent: bool = False  # the values are percentages
    horizontal: bool = False  # bars along the y axis, a label each (the collections overview)
    links: list[str] = field(default_factory=list)  # where a click on each label leads
    note: str = ""  # shown under the title

    @property
    def chart_id(self) -> str:
        return f"chart-{self.key}"

    def chart(self) -> dict:
        """What the page's script gives Chart.js (json_script)."""
        return {
            "kind": self.kind,
            "labels": self.labels,
            "series": [
                {
                    "name": s["name"],
                    "values": [float(v) if v is not None else None for v in s["values"]],
                }
                for s in self.series
            ],
            "stacked": self.stacked,
            "percent": self.percent,
            "horizontal": self.horizontal,
            "links": self.links,
        }


class Percentile(Aggregate):
    """PostgreSQL's ``percentile_cont(ARRAY[fractions]) WITHIN GROUP (ORDER BY expression)``:
    an array of the percentiles, in the order of ``fractions``."""

    function = "percentile_cont"
    template = "%(function)s(ARRAY[%(fractions)s]) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, *, fractions: list[float], **extra):
        super().__init__(expression, fractions=", ".join(str(float(f)) for f in fractions), **extra)


def _months(period: Period) -> list[dt.date]:
    months, month = [], period.start.replace(day=1)
    while month <= period.end:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def _days(period: Period) -> list[dt.date]:
    return [
        period.start + dt.timedelta(days=n) for n in range((period.end - period.start).days + 1)
    ]


def _of_institution(queryset: QuerySet, period: Period, path: str) -> QuerySet:
    return queryset.filter(**{path: period.institution}) if period.institution else queryset


def _percent(part, whole) -> Decimal | None:
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1")) if whole else None


def signups_by_month(period: Period) -> Report:
    """Agreements signed each month, by institution; the table also by channel, age band (at
    the period's end) and residents against people from outside the region."""
    signed = _of_institution(
        CreditAgreement.objects.filter(period.bounds("signed_at")), period, "institution"
    )
    # Youngest first: the first band whose earliest birth date the patient's is after.
    band = Case(
        When(patient__birth_date=None, then=Value(_("unknown"))),
        *(
            When(
                patient__birth_date__gt=_years_before(period.end, high + 1),
                then=Value(_band_label(low, high)),
            )
            for low, high in AGE_BANDS
            if high is not None
        ),
        default=Value(_band_label(*AGE_BANDS[-1])),
    )
    rows = (
        signed.annotate(month=TruncMonth("signed_at", output_field=DateField()))
        .annotate(band=band)
        .values("month", "institution__name", "channel", "band", "patient__resident_of_region")
        .annotate(count=Count("pk"))
        .order_by("month", "institution__name")
    )
    months = _months(period)
    by_institution: dict[str, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    table: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in rows:
        by_institution[row["institution__name"]][row["month"]] += row["count"]
        cells = table[(row["month"], row["institution__name"], row["band"])]
        cells[0 if row["channel"] == SigningChannel.WINDOW else 1] += row["count"]
        cells[2 if row["patient__resident_of_region"] else 3] += row["count"]
    return Report(
        key="signups",
        title=_("Sign-ups per month"),
        kind="bar",
        labels=[m.strftime("%Y-%m") for m in months],
        series=[
            {"name": name, "values": [counts.get(m, 0) for m in months]}
            for name, counts in sorted(by_institution.items())
        ],
        stacked=True,
        columns=[
            _("month"),
            _("institution"),
            _("age band"),
            _("at a window"),
            _("online"),
            _("residents"),
            _("from outside the region"),
        ],
        rows=[
            [month.strftime("%Y-%m"), institution, band, *cells]
            for (month, institution, band), cells in sorted(table.items())
        ],
    )


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _band_label(low: int, high: int | None) -> str:
    return f"{low}+" if high is None else f"{low}-{high}"


def payments_by_day(period: Period) -> Report:
    """Money taken each day, by channel (window payments included)."""
    paid = _of_institution(
        Payment.objects.filter(period.bounds("succeeded_at"), status__in=MONEY_TAKEN),
        period,
        "institution",
    )
    rows = (
        paid.annotate(day=TruncDay("succeeded_at", output_field=DateField()))
        .values("day", "channel")
        .annotate(count=Count("pk"), amount=Sum("amount"))
        .order_by("day", "channel")
    )
    days = _days(period)
    amounts: dict[str, dict[dt.date, Decimal]] = defaultdict(dict)
    table = []
    for row in rows:
        amounts[row["channel"]][row["day"]] = row["amount"]
        table.append(
            [row["day"].isoformat(), channel_name(row["channel"]), row["count"], row["amount"]]
        )
    return Report(
        key="payments",
        title=_("Payments by channel and day (CNY)"),
        kind="bar",
        labels=[d.isoformat() for d in days],
        series=[
            {"name": channel_name(channel), "values": [by_day.get(d, 0) for d in days]}
            for channel, by_day in sorted(amounts.items())
        ],
        stacked=True,
        columns=[_("day"), _("channel"), pgettext("report", "payments"), _("amount")],
        rows=table,
    )


def time_to_pay(period: Period) -> Report:
    """For bills paid each month: hours from the end of the visit to payment (median and
    90th percentile), and the share paid by the due time."""
    paid = _of_institution(
        Bill.objects.filter(period.bounds("paid_at"), status=BillStatus.PAID, self_pay__gt=0),
        period,
        "institution",
    )
    waited = Cast(F("paid_at") - F("closed_at"), DurationField())
    rows = (
        paid.annotate(month=TruncMonth("paid_at", output_field=DateField()))
        .values("month")
        .annotate(
            bills=Count("pk"),
            # Both from one sort of the month's waits.
            percentiles=Percentile(
                waited, fractions=[0.5, 0.9], output_field=ArrayField(DurationField())
            ),
            on_time=Count("pk", filter=Q(paid_at__lte=F("due_at"))),
        )
        .order_by("month")
    )
    by_month = {
        row["month"]: {**row, "median": row["percentiles"][0], "p90": row["percentiles"][1]}
        for row in rows
    }
    months = _months(period)

    def hours(value: dt.timedelta | None) -> Decimal | None:
        return (
            None
            if value is None
            else Decimal(value.total_seconds() / 3600).quantize(Decimal("0.1"))
        )

    return Report(
        key="time_to_pay",
        title=_("Hours from the end of the visit to payment"),
        kind="line",
        labels=[m.strftime("%Y-%m") for m in months],
        series=[
            {
                "name": _("median"),
                "values": [hours(by_month.get(m, {}).get("median")) for m in months],
            },
            {
                "name": _("90th percentile"),
                "values": [hours(by_month.get(m, {}).get("p90")) for m in months],
            },
        ],
        columns=[
            _("month"),
            _("bills paid"),
            _("median (hours)"),
            _("90th percentile (hours)"),
            _("paid on time (%)"),
        ],
        rows=[
            [
                m.strftime("%Y-%m"),
                by_month[m]["bills"],
                hours(by_month[m]["median"]),
                hours(by_month[m]["p90"]),
                _percent(by_month[m]["on_time"], by_month[m]["bills"]),
            ]
            for m in months
            if m in by_month
        ],
    )


def usage_rate(period: Period) -> Report:
    """Visits on credit each day against all the visits the institutions' HIS reported."""
    on_credit = dict(
        _of_institution(Visit.objects.filter(period.bounds("started_at")), period, "institution")
        .annotate(day=TruncDay("started_at", output_field=DateField()))
        .values_list("day")
        .annotate(count=Count("pk"))
        .order_by()
    )
    reported = dict(
        _of_institution(
            DailyVisitCount.objects.filter(day__gte=period.start, day__lte=period.end),
            period,
            "institution",
        )
        .values_list("day")
        .annotate(total=Sum(F("outpatient") + F("inpatient")))
        .order_by()
    )
    days = _days(period)
    return Report(
        key="usage",
        title=_("Usage rate: visits on credit against all visits (%)"),
        kind="line",
        labels=[d.isoformat() for d in days],
        series=[
            {
                "name": _("usage rate"),
                "values": [_percent(on_credit.get(d, 0), reported.get(d)) for d in days],
            }
        ],
        percent=True,
        columns=[_("day"), _("visits on credit"), _("all visits (reported)"), _("usage rate (%)")],
        rows=[
            [
                d.isoformat(),
                on_credit.get(d, 0),
                reported.get(d),
                _percent(on_credit.get(d, 0), reported.get(d)),
            ]
            for d in days
            if d in on_credit or d in reported
        ],
    )


def sms_delivery(period: Period) -> Report:
    """Of the SMS sent each day, the share the provider reports delivered (all of the
    region's: messages are not kept by institution)."""
    rows = (
        SmsMessage.objects.filter(
            period.bounds("created_at"),
            status__in=[SmsStatus.SENT, SmsStatus.DELIVERED, SmsStatus.FAILED],
        )
        .annotate(day=TruncDay("created_at", output_field=DateField()))
        .values("day")
        .annotate(  # of the status (never null), which the index on (created_at, status) holds
            sent=Count("status"),
            delivered=Count("status", filter=Q(status=SmsStatus.DELIVERED)),
            failed=Count("status", filter=Q(status=SmsStatus.FAILED)),
        )
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    days = _days(period)
    return Report(
        key="sms",
        title=_("SMS delivered (%)"),
        kind="line",
        labels=[d.isoformat() for d in days],
        series=[
            {
                "name": _("delivered (%)"),
                "values": [
                    _percent(by_day[d]["delivered"], by_day[d]["sent"]) if d in by_day else None
                    for d in days
                ],
            }
        ],
        percent=True,
        columns=[
            _("day"),
            pgettext("report", "sent"),
            pgettext("report", "delivered"),
            pgettext("report", "failed"),
            _("delivered (%)"),
        ],
        rows=[
            [
                d.isoformat(),
                by_day[d]["sent"],
                by_day[d]["delivered"],
                by_day[d]["failed"],
                _percent(by_day[d]["delivered"], by_day[d]["sent"]),
            ]
            for d in days
            if d in by_day
        ],
    )


def _balances(period: Period, measure: str) -> list[tuple[dt.date, dt.date | None, dict]]:
    """For each month of the period: the month, its last recorded day to the period's end
    (``None`` if none) and that day's figures of ``measure`` summed over the institutions,
    by key, as ``{key: (bills, amount)}``."""
    figures = _of_institution(
        DailyFigure.objects.filter(measure=measure, day__gte=period.start, day__lte=period.end),
        period,
        "institution",
    )
    by_day: dict[dt.date, dict[str, tuple[int, Decimal]]] = defaultdict(dict)
    for row in (
        figures.values("day", "key").annotate(bills=Sum("bills"), amount=Sum("amount")).order_by()
    ):
        by_day[row["day"]][row["key"]] = (row["bills"], row["amount"])
    last_of_month = {}
    for day in sorted(by_day):
        last_of_month[day.replace(day=1)] = day
    return [
        (month, last_of_month.get(month), by_day.get(last_of_month.get(month), {}))
        for month in _months(period)
    ]


def _balances_note() -> str:
    return _(
        "The books at the end of each month's last recorded day: they are recorded each "
        "night, so the current month shows yesterday's."
    )


def _month_label(month: dt.date, day: dt.date | None) -> str:
    """The day whose figures are shown, else the month."""
    return day.isoformat() if day else month.strftime("%Y-%m")


def credit_in_use(period: Period) -> Report:
    """Visits on credit each month by pool, and the credit outstanding (held by open visits
    and unpaid bills) at each month's last recorded day, by pool."""
    visits = dict(
        (((row["month"], row["kind"]), row["count"]))
        for row in _of_institution(
            Visit.objects.filter(period.bounds("started_at")), period, "institution"
        )
        .annotate(month=TruncMonth("started_at", output_field=DateField()))
        .values("month", "kind")
        .annotate(count=Count("pk"))
        .order_by()
    )
    balances = _balances(period, FigureMeasure.OUTSTANDING)
    pools = [(pool, label) for pool, label in CreditPool.choices]

    def outstanding(figures: dict, pool: str) -> Decimal | None:
        return figures[pool][1] if pool in figures else None

    return Report(
        key="credit",
        title=_("Credit outstanding at each month's end (CNY)"),
        note=_balances_note(),
        kind="line",
        labels=[_month_label(month, day) for month, day, _f in balances],
        series=[
            {"name": str(label), "values": [outstanding(f, pool) for _month, _day, f in balances]}
            for pool, label in pools
        ],
        columns=[
            _("month"),
            _("figures of"),
            *(_("visits on credit: %(pool)s") % {"pool": label} for _pool, label in pools),
            *(_("outstanding: %(pool)s") % {"pool": label} for _pool, label in pools),
        ],
        rows=[
            [
                month.strftime("%Y-%m"),
                day.isoformat() if day else "",
                *(visits.get((month, pool), 0) for pool, _label in pools),
                *(outstanding(figures, pool) for pool, _label in pools),
            ]
            for month, day, figures in balances
        ],
    )


def recovered_and_written_off(period: Period) -> Report:
    """Each month: money paid on bills after their due time (recovered), and bills written
    off, from the recorded days' figures."""
    rows = {
        (row["month"], row["measure"]): row["amount"]
        for row in _of_institution(
            DailyFigure.objects.filter(
                measure__in=[FigureMeasure.RECOVERED, FigureMeasure.WRITTEN_OFF],
                day__gte=period.start,
                day__lte=period.end,
            ),
            period,
            "institution",
        )
        .annotate(month=TruncMonth("day"))
        .values("month", "measure")
        .annotate(amount=Sum("amount"))
        .order_by()
    }
    months = _months(period)

    def of(month: dt.date, measure: str) -> Decimal:
        return rows.get((month, measure), ZERO)

    return Report(
        key="collections",
        title=_("Overdue money recovered and written off (CNY)"),
        kind="bar",
        labels=[m.strftime("%Y-%m") for m in months],
        series=[
            {
                "name": _("recovered"),
                "values": [of(m, FigureMeasure.RECOVERED) for m in months],
            },
            {
                "name": _("written off"),
                "values": [of(m, FigureMeasure.WRITTEN_OFF) for m in months],
            },
        ],
        columns=[_("month"), _("recovered"), _("written off")],
        rows=[
            [m.strftime("%Y-%m"), of(m, FigureMeasure.RECOVERED), of(m, FigureMeasure.WRITTEN_OFF)]
            for m in months
        ],
    )


def overdue_by_bucket(period: Period) -> Report:
    """At each month's last recorded day: what was owed on bills past due, by days overdue
    (COLLECTION_BUCKETS)."""
    names = [label for label, _first, _last in collection_buckets()]
    balances = _balances(period, FigureMeasure.OVERDUE)
    return Report(
        key="overdue",
        title=_("Overdue at each month's end, by days overdue (CNY)"),
        note=_balances_note(),
        kind="bar",
        labels=[_month_label(month, day) for month, day, _f in balances],
        series=[
            {
                "name": name,
                "values": [f[name][1] if name in f else None for _month, _day, f in balances],
            }
            for name in names
        ],
        stacked=True,
        columns=[_("figures of"), _("days overdue"), _("bills"), _("amount")],
        rows=[
            [day.isoformat(), name, *figures[name]]
            for _month, day, figures in balances
            if day
            for name in names
            if name in figures and figures[name][0]
        ],
    )


REPORTS = {
    "signups": signups_by_month,
    "payments": payments_by_day,
    "usage": usage_rate,
    "time_to_pay": time_to_pay,
    "sms": sms_delivery,
    "credit": credit_in_use,
    "overdue": overdue_by_bucket,
    "collections": recovered_and_written_off,
}


def reports(period: Period) -> list[Report]:
    return [build(period) for build in REPORTS.values()]
