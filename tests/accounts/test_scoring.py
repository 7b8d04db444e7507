import logging
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import SystemCheckError

from accounts import services
from accounts.models import CreditLimitChange, CreditScore
from accounts.scoring import fetch_score
from tests.factories import PatientFactory
from tests.fake_http import Answer, FakeServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def score_server(settings):
    with FakeServer() as server:
        settings.CREDIT_SCORE_PROVIDER = "http"
        settings.CREDIT_SCORE_HTTP_URL = f"{server.url}/v1/score"
        settings.CREDIT_SCORE_HTTP_API_KEY = "key-from-env"
        settings.CREDIT_SCORE_HTTP_TIMEOUT = 0.5
        yield server


def outpatient_limit(agreement) -> Decimal:
    return agreement.patient.credit_lines.get(pool="outpatient").limit


def test_no_provider_means_base_limits(hospital, window_clerk):
    patient = PatientFactory()
    assert fetch_score(patient) == (None, "none")
    agreement = services.agreement_sign(patient=patient, institution=hospital, actor=window_clerk)
    assert outpatient_limit(agreement) == Decimal("300.00")


def test_http_score_raises_the_starting_limit(score_server, hospital, window_clerk):
    score_server.respond = lambda request: Answer(200, {"score": 760})
    patient = PatientFactory()

    agreement = services.agreement_sign(patient=patient, institution=hospital, actor=window_clerk)

    assert outpatient_limit(agreement) == Decimal("450.00")  # band 750: x1.5
    change = agreement.patient.credit_lines.get(pool="outpatient").limit_changes.get()
    assert change.source == "score" and "score 760" in change.reason
    (request,) = score_server.requests
    assert request.method == "POST"
    assert request.headers["Authorization"] == "Bearer key-from-env"
    assert request.json()["citizen_card"] == patient.citizen_card
    assert patient.id_number not in request.path  # identity only in the body
    assert CreditScore.objects.get(citizen_card=patient.citizen_card).score == 760


@pytest.mark.parametrize(
    "answer",
    [
        Answer(500, b"upstream down"),
        Answer(200, b"not json"),
        Answer(200, {"score": 2000}),
        Answer(200, {"score": "760"}),
        Answer(200, {"score": 760}, delay=2.0),  # slower than the 0.5 s timeout
    ],
    ids=["5xx", "garbage", "out-of-range", "string", "timeout"],
)
def test_failing_provider_never_blocks_signing(
    score_server, hospital, window_clerk, caplog, answer
):
    score_server.respond = lambda request: answer
    patient = PatientFactory()

    with caplog.at_level(logging.WARNING, logger="accounts.scoring"):
        agreement = services.agreement_sign(
            patient=patient, institution=hospital, actor=window_clerk
        )

    assert agreement.status == "active"
    assert outpatient_limit(agreement) == Decimal("300.00")
    assert "base limits apply" in caplog.text
    assert not CreditScore.objects.exists()


def test_unreachable_provider_never_blocks_signing(settings, hospital, window_clerk, caplog):
    settings.CREDIT_SCORE_PROVIDER = "http"
    settings.CREDIT_SCORE_HTTP_URL = "http://127.0.0.1:9/score"  # nothing listens on discard
    agreement = services.agreement_sign(
        patient=PatientFactory(), institution=hospital, actor=window_clerk
    )
    assert outpatient_limit(agreement) == Decimal("300.00")
    assert "base limits apply" in caplog.text


def test_unknown_person_at_the_provider_gets_base_limits(score_server, hospital, window_clerk):
    score_server.respond = lambda request: Answer(404, {"error": "unknown"})
    agreement = services.agreement_sign(
        patient=PatientFactory(), institution=hospital, actor=window_clerk
    )
    assert outpatient_limit(agreement) == Decimal("300.00")


def test_csv_import_feeds_the_csv_provider(settings, tmp_path, hospital, window_clerk):
    settings.CREDIT_SCORE_PROVIDER = "csv"
    patient = PatientFactory()
    path = tmp_path / "scores.csv"
    path.write_text(f"citizen_card,score\n{patient.citizen_card},690\nOTHER,800\n")

    call_command("import_credit_scores", str(path))
    agreement = services.agreement_sign(patient=patient, institution=hospital, actor=window_clerk)

    assert CreditScore.objects.count() == 2
    assert outpatient_limit(agreement) == Decimal("360.00")  # band 650: x1.2


def test_csv_import_with_a_bad_line_imports_nothing(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("citizen_card,score\nA1,700\nA2,abc\n")
    with pytest.raises(CommandError, match="line 3"):
        call_command("import_credit_scores", str(path))
    assert not CreditScore.objects.exists()


def test_nightly_recompute_uses_the_latest_score(signed_patient):
    from billing.tasks import recompute_credit_limits

    CreditScore.objects.create(
        citizen_card=signed_patient.patient.citizen_card, score=860, source="csv"
    )
    assert recompute_credit_limits() == 1  # one chunk, run inline in tests
    assert outpatient_limit(signed_patient) == Decimal("600.00")
    changes = CreditLimitChange.objects.count()
    recompute_credit_limits()
    assert CreditLimitChange.objects.count() == changes  # running twice changes nothing more


def test_misconfigured_provider_never_blocks_signing(settings, hospital, window_clerk, caplog):
    from django.core.management import call_command

    settings.CREDIT_SCORE_PROVIDER = "http"
    settings.CREDIT_SCORE_HTTP_URL = ""
    agreement = services.agreement_sign(
        patient=PatientFactory(), institution=hospital, actor=window_clerk
    )
    assert outpatient_limit(agreement) == Decimal("300.00")
    assert "misconfigured" in caplog.text
    with pytest.raises(SystemCheckError):
        call_command("check")
