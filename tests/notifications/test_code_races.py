"""Verification code limits hold when requests arrive at the same moment (PostgreSQL)."""

import pytest

from creditcare.errors import DomainError
from notifications.codes import code_check, code_send
from notifications.models import SmsMessage, VerificationCode
from tests.threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+8613812345678"


def test_ten_code_requests_at_once_send_one_code():
    results = run_together(*[lambda: code_send(phone=PHONE, purpose="pay:1") for _ in range(10)])
    assert sum(isinstance(r, VerificationCode) for r in results) == 1, results
    assert all(r.code == "code_too_soon" for r in results if isinstance(r, DomainError))
    assert VerificationCode.objects.count() == 1
    assert SmsMessage.objects.filter(template="verification_code").count() == 1


def test_thirty_guesses_at_once_are_only_five_checks():
    code_send(phone=PHONE, purpose="pay:1")
    results = run_together(
        *[lambda: code_check(phone=PHONE, purpose="pay:1", code="not-it") for _ in range(30)]
    )
    assert all(isinstance(r, DomainError) for r in results), results
    assert VerificationCode.objects.get().checks == 5
    assert sum(r.code == "code_locked" for r in results) >= 25
