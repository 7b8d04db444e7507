"""Billing demo data for ``manage.py seed_demo``: a visit three weeks ago whose bill was never
paid, so the overdue sweep suspends the agreement and opens a collection case, as it would."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from accounts.models import Institution, Patient
from billing.collections.sweep import overdue_sweep
from billing.models import Visit
from billing.visits import services


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
    one = Decimal("1")
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
            services.ChargeLine(line, code, name, category, one, amount, amount, amount)
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
