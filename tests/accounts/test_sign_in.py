"""Staff sign-in is throttled (issue 13, defect 9): repeated wrong passwords lock the user
out, and the address they came from, for a while; the right password then does not help."""

import pytest
from django.test import Client

from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


def sign_in(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def test_wrong_passwords_lock_the_user_out_even_with_the_right_one(hospital, settings):
    StaffFactory(username="clerk2", institution=hospital, password="right-password-2026")
    client = Client(REMOTE_ADDR="10.0.0.7")
    answers = [sign_in(client, "clerk2", "wrong").status_code for _ in range(30)]
    assert answers[0] == 200  # the form again, with its error
    assert answers[-1] == 429  # locked, long before the thirtieth

    locked = sign_in(Client(REMOTE_ADDR="10.0.0.8"), "clerk2", "right-password-2026")

    assert locked.status_code == 429
    assert "_auth_user_id" not in locked.wsgi_request.session


def test_wrong_passwords_from_one_address_lock_that_address(hospital, settings):
    StaffFactory(username="clerk3", institution=hospital, password="right-password-2026")
    client = Client(REMOTE_ADDR="10.0.0.9")
    for number in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, f"guess{number}", "wrong")

    assert sign_in(client, "clerk3", "right-password-2026").status_code == 429


def test_the_right_password_signs_in_and_forgets_earlier_mistakes(hospital):
    StaffFactory(username="clerk4", institution=hospital, password="right-password-2026")
    client = Client(REMOTE_ADDR="10.0.0.10")
    sign_in(client, "clerk4", "wrong")

    assert sign_in(client, "clerk4", "right-password-2026").status_code == 302
