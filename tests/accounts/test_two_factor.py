"""Staff two-factor sign-in (issue 13, defect 9): a code from an authenticator app (TOTP)
besides the password, required for finance and credit officers by OTP_REQUIRED_ROLES, open
to any staff member; wrong codes count towards the sign-in lockout."""

import datetime as dt
import time

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import roles, two_factor

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
SET_UP = "/admin/two-factor/"
PASSWORD = "pass-for-tests"  # the factory's
NOW = dt.datetime(2026, 3, 2, 9, 0, 10, tzinfo=dt.UTC)


def code_of(key: str, *, steps_later: int = 0) -> str:
    """What an authenticator app holding ``key`` shows now (or that many 30 s steps on)."""
    totp = TOTP(bytes.fromhex(key))
    totp.time = time.time() + 30 * steps_later
    return f"{totp.token():06d}"


def sign_in(client: Client, user, code: str = "", password: str = PASSWORD):
    return client.post(LOGIN, {"username": user.username, "password": password, "otp_token": code})


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def required(settings):
    settings.OTP_REQUIRED_ROLES = [roles.FINANCE, roles.CREDIT_OFFICERS]


@pytest.fixture
def authenticator(finance_officer) -> TOTPDevice:
    return TOTPDevice.objects.create(user=finance_officer, name="phone")


def test_a_finance_officer_with_no_authenticator_can_only_set_one_up(required, finance_officer):
    client = Client()

    answer = sign_in(client, finance_officer)

    assert answer.status_code == 302 and signed_in(client)  # the password was right
    for page in ("/admin/", "/admin/billing/bill/", "/admin/accounts/patient/"):
        assert client.get(page)["Location"] == SET_UP, page
    page = client.get(SET_UP)
    assert page.status_code == 200
    assert b"data-must-enrol" in page.content and b"<svg" in page.content
    assert b'id="nav-sidebar"' not in page.content  # nothing else to open yet
    client.post("/admin/logout/")
    assert not signed_in(client)


def test_setting_up_takes_the_apps_current_code_and_no_other(required, finance_officer):
    client = Client()
    sign_in(client, finance_officer)
    page = client.get(SET_UP)
    key = client.session[two_factor.CANDIDATE_SESSION_KEY]
    assert two_factor.secret_for_typing(key).encode() in page.content

    wrong = client.post(SET_UP, {"code": code_of(key, steps_later=5)})

    assert wrong.status_code == 200 and b"errorlist" in wrong.content
    assert not TOTPDevice.objects.exists()
    assert client.get("/admin/")["Location"] == SET_UP

    right = client.post(SET_UP, {"code": code_of(key)})

    assert right["Location"] == "/admin/"
    device = TOTPDevice.objects.get(user=finance_officer, confirmed=True)
    assert device.key == key
    assert client.get("/admin/").status_code == 200  # this session gave the code
    assert client.get("/admin/billing/bill/").status_code == 200


def test_with_an_authenticator_sign_in_asks_for_its_code(finance_officer, authenticator, clock):
    no_code = sign_in(client := Client(), finance_officer)
    assert no_code.status_code == 200 and not signed_in(client)
    assert b"Enter the code your authenticator app shows." in no_code.content

    wrong = sign_in(client, finance_officer, code_of(authenticator.key, steps_later=3))
    assert wrong.status_code == 200 and not signed_in(client)

    clock.shift(2)  # the wait after a wrong code
    right = sign_in(client, finance_officer, code_of(authenticator.key))
    assert right.status_code == 302
    assert client.get("/admin/").status_code == 200  # signed in with a code: not sent back


def test_a_code_signs_in_once(finance_officer, authenticator, clock):
    code = code_of(authenticator.key)
    assert sign_in(Client(), finance_officer, code).status_code == 302
    clock.shift(5)  # within the same 30 seconds: the same code, seen again

    assert sign_in(Client(), finance_officer, code).status_code == 200


def test_after_a_wrong_code_the_authenticator_waits_before_the_next(
    finance_officer, authenticator, clock
):
    client = Client()
    sign_in(client, finance_officer, code_of(authenticator.key, steps_later=9))

    throttled = sign_in(client, finance_officer, code_of(authenticator.key))

    assert throttled.status_code == 200 and b"Too many wrong codes" in throttled.content
    clock.shift(2)
    assert sign_in(client, finance_officer, code_of(authenticator.key)).status_code == 302


def test_wrong_codes_lock_the_sign_in_out_as_wrong_passwords_do(
    finance_officer, authenticator, settings, clock
):
    client = Client(REMOTE_ADDR="10.0.0.21")
    answers = []
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        clock.shift(120)  # past the authenticator's own wait: every code is really checked
        answers.append(sign_in(client, finance_officer, "000000").status_code)
    assert answers[0] == 200 and answers[-1] == 429

    clock.shift(60)
    locked = sign_in(Client(REMOTE_ADDR="10.0.0.22"), finance_officer, code_of(authenticator.key))

    assert locked.status_code == 429  # the user is locked, the right code does not help


def test_roles_not_required_sign_in_with_the_password(required, window_clerk):
    client = Client()

    assert sign_in(client, window_clerk).status_code == 302

    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/patient/desk/").status_code == 200


def test_with_the_setting_off_nobody_must_set_one_up(settings, finance_officer, credit_officer):
    settings.OTP_REQUIRED_ROLES = []
    for officer in (finance_officer, credit_officer):
        client = Client()
        assert sign_in(client, officer).status_code == 302
        assert client.get("/admin/").status_code == 200


def test_any_staff_member_may_set_one_up_and_is_then_asked_for_it(window_clerk):
    client = Client()
    sign_in(client, window_clerk)
    assert client.get("/admin/").status_code == 200
    assert b"/admin/two-factor/" in client.get("/admin/").content  # the user tools link
    client.get(SET_UP)
    key = client.session[two_factor.CANDIDATE_SESSION_KEY]
    client.post(SET_UP, {"code": code_of(key)})

    assert sign_in(Client(), window_clerk).status_code == 200  # the password alone
    assert sign_in(Client(), window_clerk, code_of(key, steps_later=1)).status_code == 302


def test_a_new_phone_replaces_the_old_one_once_confirmed(finance_officer, authenticator, clock):
    client = Client()
    sign_in(client, finance_officer, code_of(authenticator.key))
    client.get(SET_UP + "?new=1")
    new_key = client.session[two_factor.CANDIDATE_SESSION_KEY]
    assert TOTPDevice.objects.get().key == authenticator.key  # the old one works till then

    client.post(SET_UP, {"code": code_of(new_key)})

    assert TOTPDevice.objects.get().key == new_key
    assert client.get("/admin/").status_code == 200
    clock.shift(60)
    assert sign_in(Client(), finance_officer, code_of(authenticator.key)).status_code == 200


def test_a_session_without_a_code_is_signed_out_once_there_is_an_authenticator(window_clerk):
    client = Client()
    sign_in(client, window_clerk)  # no authenticator yet: the password was enough
    TOTPDevice.objects.create(user=window_clerk, name="set up in another browser")

    answer = client.get("/admin/")

    assert answer["Location"].startswith("/admin/login/")
    assert not signed_in(client)


def test_the_required_roles_must_be_roles(settings):
    settings.OTP_REQUIRED_ROLES = ["Finance", "Fnance"]
    with pytest.raises(SystemCheckError, match=r"creditcare\.E004"):
        call_command("check")


def test_check_deploy_warns_when_no_role_must_give_a_code(settings):
    from creditcare.checks import otp_required_for_some_role

    settings.OTP_REQUIRED_ROLES = []
    assert [warning.id for warning in otp_required_for_some_role(None)] == ["creditcare.W002"]
    settings.OTP_REQUIRED_ROLES = [roles.FINANCE]
    assert otp_required_for_some_role(None) == []
