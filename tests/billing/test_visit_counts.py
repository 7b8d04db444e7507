"""The HIS reports all its visits of a day (POST /api/v1/visit-counts/): stored per
institution and day, replaced when reported again, refused with a stable code when bad."""

import datetime as dt

import pytest
from django.utils import timezone

from billing.models import DailyVisitCount

pytestmark = pytest.mark.django_db


def test_a_days_count_is_stored_and_replaced_by_a_second_report(his):
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()

    first = his.post("visit-counts/", {"date": yesterday, "outpatient": 1234, "inpatient": 56})

    assert first.status_code == 201
    assert first.json() | {"reported_at": None} == {
        "date": yesterday,
        "outpatient": 1234,
        "inpatient": 56,
        "reported_at": None,
    }
    again = his.post("visit-counts/", {"date": yesterday, "outpatient": 1240, "inpatient": 56})
    assert again.status_code == 200 and again.json()["outpatient"] == 1240
    count = DailyVisitCount.objects.get()
    assert (count.institution, count.outpatient) == (his.institution, 1240)


def test_the_same_idempotency_key_answers_the_first_report_again(his):
    today = timezone.localdate().isoformat()
    body = {"date": today, "outpatient": 10, "inpatient": 0}
    first = his.post("visit-counts/", body, key="count-1")
    repeat = his.post("visit-counts/", body, key="count-1")
    assert (first.status_code, repeat.status_code) == (201, 201)
    assert repeat.json() == first.json()
    assert DailyVisitCount.objects.count() == 1


def test_each_institution_has_its_own_count(his, outsider_his):
    today = timezone.localdate().isoformat()
    his.post("visit-counts/", {"date": today, "outpatient": 10, "inpatient": 1})
    outsider_his.post("visit-counts/", {"date": today, "outpatient": 20, "inpatient": 2})
    assert sorted(DailyVisitCount.objects.values_list("outpatient", flat=True)) == [10, 20]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"outpatient": 1, "inpatient": 1}, 400, "invalid_input"),  # no date
        ({"date": "2026-02-30", "outpatient": 1, "inpatient": 1}, 400, "invalid_input"),
        ({"date": "yesterday", "outpatient": 1, "inpatient": 1}, 400, "invalid_input"),
        ({"date": "{today}", "outpatient": "12", "inpatient": 1}, 400, "invalid_input"),
        ({"date": "{today}", "outpatient": 1.5, "inpatient": 1}, 400, "invalid_input"),
        ({"date": "{today}", "outpatient": True, "inpatient": 1}, 400, "invalid_input"),
        ({"date": "{today}", "outpatient": -1, "inpatient": 1}, 400, "invalid_input"),
        ({"date": "{today}", "outpatient": 10**8, "inpatient": 1}, 400, "invalid_input"),
        ({"date": "{tomorrow}", "outpatient": 1, "inpatient": 1}, 422, "invalid_count_date"),
        ({"date": "2000-01-01", "outpatient": 1, "inpatient": 1}, 422, "invalid_count_date"),
    ],
)
def test_a_bad_report_is_refused_and_changes_nothing(his, body, status, code):
    today = timezone.localdate()
    days = {"{today}": today, "{tomorrow}": today + dt.timedelta(days=1)}
    if body.get("date") in days:
        body = body | {"date": days[body["date"]].isoformat()}

    response = his.post("visit-counts/", body)

    assert (response.status_code, response.json()["code"]) == (status, code)
    assert response.json()["message"]
    assert not DailyVisitCount.objects.exists()


def test_no_key_no_count(client):
    response = client.post(
        "/api/v1/visit-counts/",
        {"date": "2026-11-01", "outpatient": 1, "inpatient": 1},
        content_type="application/json",
    )
    assert response.status_code == 401 and not DailyVisitCount.objects.exists()
