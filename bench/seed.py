"""Bench data: one institution with an API key and signed patients with room on their credit.

Run with the bench's DATABASE_URL; prints JSON {"key": ..., "cards": [...]}.
"""

import json
import os
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditcare.settings")

import django

django.setup()

from accounts import services  # noqa: E402
from accounts.models import CreditLine, Institution, Patient  # noqa: E402
from accounts.services import PatientDetails  # noqa: E402
from tests.factories import resident_id  # noqa: E402

PATIENTS = int(os.environ.get("BENCH_PATIENTS", 256))

institution, _ = Institution.objects.get_or_create(
    code="bench-hospital", defaults={"name": "Bench Hospital", "kind": "hospital"}
)
_api_key, key = services.api_key_create(institution=institution, name="bench")
cards = []
for n in range(PATIENTS):
    card = f"BENCH{n:06d}"
    if not Patient.objects.filter(citizen_card=card).exists():
        services.patient_enrol(
            details=PatientDetails(
                name=f"Bench {n}",
                id_type="resident_id",
                id_number=resident_id(100_000 + n),
                citizen_card=card,
                phone=f"+86137{n:08d}",
            ),
            institution=institution,
            actor=None,
        )
    cards.append(card)
for line in CreditLine.objects.filter(patient__citizen_card__in=cards, limit__lt=10**8):
    services.credit_limit_change(
        credit_line=line,
        new_limit=Decimal("100000000.00"),
        reason="bench: room for every charge",
        source="staff",
        actor=None,
    )
print(json.dumps({"key": key, "cards": cards}))
