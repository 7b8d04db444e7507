"""Billing demo data for ``manage.py seed_demo``: a visit three weeks ago whose bill was never
paid, so the overdue sweep suspends the agreement and opens a collection case, as it would;
and a long inpatient stay under way, billed part-way once."""

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Institution, Patient
from billing.collections.sweep import overdue_sweep
from billing.models import Visit
from billing.visits import services

ONE = Decimal("1")
LONG_STAY_CARD = "DEMO0000002"  # an active agreement in accounts.demo.PATIENTS


def seed_overdue_bill(*, patient: Patient, institution: Institution) -> None:
    if Visit.objects.filter(institution=institution, his_visit_id="DEMO-OVERDUE-1").exists():
        return
    started = timezone.now() - dt.timedelta(days=22)
    visit, _created = services.visit_open(
        institution=institution,
        api_key=None,
        citizen_card=patient.citizen_card,
        kind="outpatient",
        his_visit_id="DEMO-OVERDUE-1",
        department="内科",
        doctor="周医生",
        started_at=started,
    )
    lines = [
        ("1", "F001", "挂号费", "registration", Decimal("20.00")),
        ("2", "L002", "血常规", "lab", Decimal("45.00")),
        ("3", "D003", "阿莫西林胶囊", "drug", Decimal("121.50")),
    ]
    services.charges_post(
        visit_id=visit.pk,
        institution=institution,
        api_key=None,
        lines=[
            services.ChargeLine(line, code, name, category, ONE, amount, amount, amount)
            for line, code, name, category, amount in lines
        ],
    )
    services.visit_close(
        visit_id=visit.pk,
        institution=institution,
        api_key=None,
        settlement=services.Settlement(
            total=Decimal("186.50"),
            insurance_fund=Decimal("88.00"),
            personal_account=Decimal("12.00"),
            self_pay=Decimal("86.50"),
            insurance_account_balance=Decimal("640.00"),
            closed_at=started + dt.timedelta(hours=1),
        ),
    )
    overdue_sweep()


def seed_long_stay(*, institution_code: str) -> None:
    """An inpatient stay of 12 days so far at the institution: its first 10 days on an
    interim bill (unpaid), the 2 since held on the credit line."""
    institution = Institution.objects.get(code=institution_code)
    if Visit.objects.filter(institution=institution, his_visit_id="DEMO-STAY-1").exists():
        return
    with transaction.atomic():  # whole or not at all: a second run skips only a whole one
        _long_stay(institution)


def _long_stay(institution: Institution) -> None:
    started = timezone.now() - dt.timedelta(days=12)
    visit, _created = services.visit_open(
        institution=institution,
        api_key=None,
        citizen_card=LONG_STAY_CARD,
        kind="inpatient",
        his_visit_id="DEMO-STAY-1",
        department="骨科",
        doctor="吴医生",
        started_at=started,
    )
    services.charges_post(
        visit_id=visit.pk, institution=institution, api_key=None, lines=_stay_days(1, 10)
    )
    services.visit_interim(
        visit_id=visit.pk,
        institution=institution,
        api_key=None,
        his_settlement_id="DEMO-ZJ-1",
        settlement=services.Settlement(
            total=Decimal("3300.00"),
            insurance_fund=Decimal("2310.00"),
            personal_account=Decimal("0.00"),
            self_pay=Decimal("990.00"),
            insurance_account_balance=Decimal("0.00"),
            closed_at=started + dt.timedelta(days=10),
        ),
    )
    services.charges_post(
        visit_id=visit.pk, institution=institution, api_key=None, lines=_stay_days(11, 12)
    )


def _stay_days(first: int, last: int) -> list[services.ChargeLine]:
    """A ward's daily charges (bed, nursing, an antibiotic) for days ``first`` to ``last``."""
    daily = [
        ("B001", "床位费", "bed", Decimal("60.00")),
        ("N001", "二级护理", "nursing", Decimal("25.00")),
        ("D101", "头孢呋辛钠注射液", "drug", Decimal("245.00")),
    ]
    return [
        services.ChargeLine(f"{day}-{code}", code, name, category, ONE, amount, amount, amount)
        for day in range(first, last + 1)
        for code, name, category, amount in daily
    ]
