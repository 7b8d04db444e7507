import itertools
import json

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from accounts.models import AgreementStatus, CreditAgreement, Institution, Patient, User

pytestmark = pytest.mark.django_db


def seed_json(capsys) -> dict:
    call_command("seed_demo", "--json")
    return json.loads(capsys.readouterr().out)


def test_seed_demo_json_lists_logins_patients_and_institutions(capsys):
    data = seed_json(capsys)

    assert {s["role"] for s in data["staff"]} >= {
        "Window staff",
        "Collection staff",
        "Finance",
        "Credit officers",
    }
    for staff in data["staff"]:
        request = RequestFactory().post("/admin/login/")  # sign-in is throttled per request
        assert authenticate(request, username=staff["username"], password=staff["password"])
    assert {p["agreement_status"] for p in data["patients"]} == set(AgreementStatus.values)
    for patient in data["patients"]:
        row = Patient.objects.get(citizen_card=patient["citizen_card"])
        assert (row.name, str(row.phone)) == (patient["name"], patient["phone"])
        assert row.agreement.status == patient["agreement_status"]
    assert {i["code"] for i in data["institutions"]} == set(
        Institution.objects.values_list("code", flat=True)
    )


def test_seed_demo_is_idempotent(capsys):
    first = seed_json(capsys)
    counts = (Patient.objects.count(), User.objects.count(), CreditAgreement.objects.count())
    second = seed_json(capsys)
    assert second == first
    assert counts == (
        Patient.objects.count(),
        User.objects.count(),
        CreditAgreement.objects.count(),
    )


def test_seed_demo_prints_logins_for_people(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "/admin/" in out and "window" in out and "DEMO0000001" in out


def test_every_limit_is_explained_by_its_history(capsys):
    from accounts.models import CreditLine

    seed_json(capsys)
    lines = CreditLine.objects.prefetch_related("limit_changes")
    assert lines.exists()
    for line in lines:
        changes = list(line.limit_changes.order_by("created_at", "pk"))
        assert changes[0].old_limit == 0
        for before, after in itertools.pairwise(changes):
            assert after.old_limit == before.new_limit
        assert changes[-1].new_limit == line.limit
