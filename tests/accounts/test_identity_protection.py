"""Identity numbers: encrypted at rest, and never recoverable by staff without the identity
permission, through a page, a filter, a sort or a search (issue 13, defect 1)."""

import io

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import FieldError
from django.db import connection
from django.urls import reverse
from django.utils.formats import date_format

from accounts.encryption import decrypt, identity_number_hash
from accounts.models import Patient
from tests.conftest import logged_in
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

PATIENTS = reverse("admin:accounts_patient_changelist")


def test_identity_numbers_are_encrypted_at_rest_with_a_keyed_hash(signed_patient):
    patient = signed_patient.patient
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id_number, id_number_hash FROM accounts_patient WHERE id = %s", [patient.pk]
        )
        stored, stored_hash = cursor.fetchone()
        cursor.execute(
            "SELECT id_number FROM accounts_historicalpatient WHERE id = %s", [patient.pk]
        )
        history = [row[0] for row in cursor.fetchall()]
    assert patient.id_number[6:14] not in stored  # not even the birth date's digits
    assert decrypt(stored) == patient.id_number
    assert stored_hash == identity_number_hash(patient.id_number)
    assert history and all(patient.id_number[6:14] not in token for token in history)
    assert Patient.objects.get(pk=patient.pk).id_number == patient.id_number


@pytest.mark.parametrize("lookup", ["exact", "startswith", "contains", "regex", "gt", "in"])
def test_an_encrypted_number_answers_no_lookup(lookup):
    value = ["3301"] if lookup == "in" else "3301"
    with pytest.raises(FieldError):
        Patient.objects.filter(**{f"id_number__{lookup}": value}).exists()


def test_the_same_identity_number_cannot_sign_up_twice(signed_patient):
    from django.core.exceptions import ValidationError

    from tests.factories import PatientFactory

    twin = PatientFactory.build(id_number=signed_patient.patient.id_number.lower())
    with pytest.raises(ValidationError, match="already exists"):
        twin.full_clean()


@pytest.mark.parametrize(
    "probe",
    [
        "id_number__startswith",
        "id_number__contains",
        "id_number__regex",
        "id_number__gt",
        "id_number__in",
        "id_number_hash__startswith",
        "birth_date__gte",
        "phone__startswith",
        "phone__contains",
        "name__startswith",
        "agreement__patient__id_number__startswith",
    ],
)
def test_a_collector_cannot_probe_the_patient_list(collector, signed_patient, probe):
    number = signed_patient.patient.id_number
    client = logged_in(collector)
    right = client.get(PATIENTS, {probe: number[:7]})
    wrong = client.get(PATIENTS, {probe: "999999"})
    assert right.status_code == wrong.status_code == 400


def test_every_admin_list_refuses_a_lookup_none_of_its_filters_offers(hospital):
    """``?id__gt=0`` is a lookup on a model's own field that no list filter reads."""
    superuser = StaffFactory(is_superuser=True, is_staff=True, institution=hospital)
    client = logged_in(superuser)
    checked = 0
    for model in apps.get_models():
        if not admin.site.is_registered(model):
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        if client.get(url).status_code != 200:
            continue  # a list that redirects (the one credit policy)
        assert client.get(url, {"id__gt": "0"}).status_code == 400, url
        checked += 1
    assert checked > 15


def test_the_lists_own_filters_and_date_drill_down_still_work(clerk_client, signed_patient):
    answer = clerk_client.get(PATIENTS, {"agreement__status__exact": "active"})
    assert answer.status_code == 200
    assert signed_patient.patient.name in answer.content.decode()
    visits = reverse("admin:billing_visit_changelist")
    drill = {"started_at__year": "2026", "started_at__month": "12"}
    assert clerk_client.get(visits, drill).status_code == 200


def test_collectors_see_neither_birth_date_nor_whole_phone(collector, signed_patient):
    patient = signed_patient.patient
    patient.full_clean()  # the birth date, from the number
    patient.save()
    born = date_format(patient.birth_date).replace(" ", "")
    client = logged_in(collector)
    national = str(patient.phone.national_number)
    for url in (PATIENTS, reverse("admin:accounts_patient_change", args=[patient.pk])):
        page = client.get(url).content.decode().replace(" ", "")
        assert patient.masked_phone in page
        assert national not in page
        assert born not in page and "birthdate" not in page.lower()
        assert patient.id_number not in page and patient.id_number[6:14] not in page


def test_window_staff_see_birth_date_and_phone(clerk_client, signed_patient):
    patient = signed_patient.patient
    patient.full_clean()
    patient.save()
    page = clerk_client.get(reverse("admin:accounts_patient_change", args=[patient.pk]))
    text = page.content.decode()
    assert patient.id_number in text
    assert date_format(patient.birth_date) in text
    assert str(patient.phone.national_number) in text.replace(" ", "")


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:accounts_patient_changelist",
        "admin:accounts_creditagreement_changelist",
        "admin:billing_collectioncase_changelist",
    ],
)
def test_searches_match_whole_numbers_only(url_name, finance_officer, window_clerk, signed_patient):
    """Finance may list agreements and cases but not see identity numbers or whole phones:
    neither a part of a phone nor an identity number finds anyone for them."""
    from billing.models import CollectionCase

    patient = signed_patient.patient
    if url_name.endswith("collectioncase_changelist"):
        CollectionCase.objects.create(patient=patient)
    url = reverse(url_name)
    national = str(patient.phone.national_number)
    client = logged_in(finance_officer)

    def finds(q: str, who=client) -> bool:
        answer = who.get(url, {"q": q})
        assert answer.status_code == 200
        return patient.name in answer.content.decode()

    assert finds(national) and finds(f"+86{national}")  # the whole number
    assert not finds(national[:7]) and not finds(national[-4:])
    assert not finds(patient.id_number)  # an oracle for the masked digits, otherwise
    if url_name == "admin:accounts_patient_changelist":
        assert finds(patient.id_number, who=logged_in(window_clerk))


def test_a_key_rotation_keeps_every_number(signed_patient, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    patient = signed_patient.patient
    new_key = Fernet.generate_key().decode()
    settings.IDENTITY_ENCRYPTION_KEYS = [new_key, *settings.IDENTITY_ENCRYPTION_KEYS]
    call_command("reencrypt_identity_numbers", stdout=io.StringIO())
    settings.IDENTITY_ENCRYPTION_KEYS = [new_key]  # the old key dropped
    assert Patient.objects.get(pk=patient.pk).id_number == patient.id_number


def test_deploy_check_fails_without_identity_keys_from_the_environment(settings):
    from creditcare.checks import identity_keys_from_environment

    settings.IDENTITY_KEYS_FROM_ENVIRONMENT = False
    assert [e.id for e in identity_keys_from_environment(None)] == ["creditcare.E003"]
    settings.IDENTITY_KEYS_FROM_ENVIRONMENT = True
    assert identity_keys_from_environment(None) == []
