"""What answers say besides their body (issue 13, defect 10, in part): patients' pages are
never stored by a browser or a proxy; a Host the API does not answer to gets the API's JSON;
times in errors are China time, as everywhere else."""

import pytest
from django.test import Client

from tests.billing.test_api import settlement

pytestmark = pytest.mark.django_db


def test_patients_pages_are_never_stored(link):
    for path in (f"/p/{link.token}", "/me/"):
        assert "no-store" in Client().get(path)["Cache-Control"], path


@pytest.mark.parametrize("urlconf", ["creditcare.urls", "creditcare.urls_api"])
def test_a_host_not_allowed_gets_the_apis_json(urlconf, settings):
    settings.ROOT_URLCONF = urlconf
    answer = Client().get("/api/v1/eligibility/", HTTP_HOST="evil.example")
    assert answer.status_code == 400
    assert answer.json()["code"] == "bad_request"


def test_a_closed_visits_time_is_given_in_china_time(his, card):
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "10.00")
    his.post(f"visits/{visit['id']}/close/", settlement("10.00", "10.00"))

    again = his.charge(visit["id"], "L2", "1.00")

    assert again.json()["code"] == "visit_closed"
    assert again.json()["details"]["closed_at"].endswith("+08:00")
