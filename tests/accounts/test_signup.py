"""Signing up online (issue 17): the phone proven by a code, the details checked as at the
desk, the agreement's full text accepted by an explicit act, a real-name check; residents
get the base limits, people from outside the region join through their credit score."""

import re
from decimal import Decimal

import pytest
from django.test import Client

from accounts.demo import demo_resident_id
from accounts.identity import resident_id_check_character
from accounts.models import (
    AgreementStatus,
    CreditScore,
    OnlineSignature,
    Patient,
    SigningChannel,
)
from accounts.signup import agreement_terms_sha256
from notifications.models import SmsMessage

pytestmark = pytest.mark.django_db

PHONE = "13912345678"
# A resident ID from Hefei: outside the region.
OUTSIDE_ID = "34010419850312042" + resident_id_check_character("34010419850312042")


def proven(client: Client, phone: str = PHONE) -> None:
    client.post("/signup/code/", {"phone": phone})
    body = SmsMessage.objects.filter(template="verification_code").latest("pk").body
    code = re.search(r"\b\d{6}\b", body).group(0)
    assert client.post("/signup/verify/", {"phone": phone, "code": code})["Location"] == (
        "/signup/details/"
    )


def details(hospital, **changes) -> dict:
    return {
        "name": "陈静",
        "id_type": "resident_id",
        "id_number": demo_resident_id("19850312", "042"),
        "citizen_card": "SG00000001",
        "resident_of_region": "on",
        "institution": hospital.pk,
        **changes,
    }


def test_a_resident_signs_up_online(client, hospital):
    assert client.get("/signup/details/")["Location"] == "/signup/"  # the phone first
    proven(client)
    assert client.post("/signup/details/", details(hospital))["Location"] == "/signup/agreement/"
    page = client.get("/signup/agreement/").content.decode()
    assert "I pay nothing at the windows" in page  # the agreement, in full
    refused = client.post("/signup/agreement/", {})  # no explicit acceptance
    assert refused.status_code == 400 and not Patient.objects.exists()

    done = client.post(
        "/signup/agreement/",
        {"accept": "yes"},
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone)",
        REMOTE_ADDR="10.1.2.3",
    )
    assert done.status_code == 200 and "¥300.00" in done.content.decode()
    patient = Patient.objects.get()
    agreement = patient.agreement
    assert (agreement.status, agreement.channel, agreement.signed_by) == (
        AgreementStatus.ACTIVE,
        SigningChannel.ONLINE,
        None,
    )
    assert str(patient.phone) == "+86" + PHONE
    signature = OnlineSignature.objects.get()
    assert signature.agreement == agreement
    assert signature.terms_version == agreement.terms_version
    assert signature.terms_sha256 == agreement_terms_sha256() and len(signature.terms_sha256) == 64
    assert (str(signature.phone), signature.client_ip, signature.user_agent) == (
        "+86" + PHONE,
        "10.1.2.3",
        "Mozilla/5.0 (iPhone)",
    )
    assert "Online" in agreement.events.get().reason  # the agreement's history says how


def test_details_are_checked_as_at_the_desk_and_name_nobody(client, hospital, signed_patient):
    proven(client)
    bad = client.post(
        "/signup/details/",
        details(hospital, id_number="330106198503120421"),  # check char
    )
    assert bad.status_code == 400
    # A card signed up already: not said on the details step (anyone could test cards), and
    # after the real-name check only "sign at a window", naming nobody.
    taken = details(hospital, citizen_card=signed_patient.patient.citizen_card)
    assert client.post("/signup/details/", taken)["Location"] == "/signup/agreement/"
    answer = client.post("/signup/agreement/", {"accept": "yes"})
    page = answer.content.decode()
    assert answer.status_code == 409 and "window" in page
    assert signed_patient.patient.name not in page and "already" not in page
    assert Patient.objects.count() == 1


def test_no_real_name_match_sends_the_person_to_a_window(client, hospital):
    proven(client)
    client.post(
        "/signup/details/", details(hospital, id_number=demo_resident_id("19850312", "999"))
    )
    answer = client.post("/signup/agreement/", {"accept": "yes"})
    assert answer.status_code == 409 and "window" in answer.content.decode()
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    ("score", "joins", "outpatient"),
    [(700, True, "360.00"), (600, False, None)],
)
def test_from_outside_the_region_by_credit_score(
    client, hospital, settings, score, joins, outpatient
):
    settings.CREDIT_SCORE_PROVIDER = "csv"
    card = "SG00000002"
    CreditScore.objects.create(citizen_card=card, score=score, source="csv")
    proven(client)
    outsider = details(hospital, citizen_card=card, resident_of_region="", score_consent="on")
    outsider["id_number"] = OUTSIDE_ID
    assert client.post("/signup/details/", outsider).status_code == 302
    answer = client.post("/signup/agreement/", {"accept": "yes"})
    if joins:
        patient = Patient.objects.get()
        assert patient.credit_lines.get(pool="outpatient").limit == Decimal(outpatient)  # x1.2
        assert f"¥{outpatient}" in answer.content.decode()
    else:
        assert answer.status_code == 409 and "650" in answer.content.decode()  # why
        assert not Patient.objects.exists()


def test_from_outside_the_region_without_consent_is_told_why(client, hospital):
    proven(client)
    outsider = details(hospital, resident_of_region="", id_number=OUTSIDE_ID)
    client.post("/signup/details/", outsider)
    answer = client.post("/signup/agreement/", {"accept": "yes"})
    assert answer.status_code == 409 and "credit score" in answer.content.decode()


HOSTILE = ["", " ", "\x00", "<script>alert(1)</script>", "' OR 1=1 --", "９" * 40, "a" * 5000]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_input_gets_no_5xx(client, hospital, value):
    for path in ("/signup/code/", "/signup/verify/"):
        assert client.post(path, {"phone": value, "code": value}).status_code < 500
    proven(client)
    for field in ("name", "id_type", "id_number", "citizen_card", "institution", "birth_date"):
        answer = client.post("/signup/details/", details(hospital, **{field: value}))
        assert answer.status_code < 500, field


def test_one_address_cannot_text_strangers_without_end(client):
    sent = [
        client.post("/signup/code/", {"phone": f"1391234{n:04d}"}).status_code for n in range(12)
    ]
    assert sent == [200] * 10 + [400] * 2
    assert SmsMessage.objects.filter(template="verification_code").count() == 10
