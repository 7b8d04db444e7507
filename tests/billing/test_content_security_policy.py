"""A Content-Security-Policy on every page (issue 13, defect 10): scripts, styles and images
from our own origin only and nothing inline, no framing, forms post to us (the bill page's
also lead to the payment channels' checkouts); the HIS API's own process sends a policy for
JSON; the API docs have theirs. tests/e2e/test_content_security_policy_browser.py shows that
the pages work under it."""

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.billing.paying import press, start
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db

HEADER = "Content-Security-Policy"


def policy(response) -> dict[str, list[str]]:
    directives = (part.split() for part in response[HEADER].split(";"))
    return {name: values for name, *values in directives}


def assert_strict(response, path: str) -> None:
    directives = policy(response)
    assert directives["default-src"] == ["'self'"], path
    assert directives["script-src"] == ["'self'"], path
    assert directives["style-src"] == ["'self'"], path
    assert directives["object-src"] == ["'none'"], path
    assert directives["frame-ancestors"] == ["'none'"], path
    assert directives["form-action"] == ["'self'"], path


def test_patients_pages_have_the_strict_policy(link, verified):
    anyone = Client()
    pages = [
        (anyone, f"/p/{link.token}"),
        (verified, f"/p/{link.token}/bill/"),
        (anyone, "/me/"),
        (anyone, "/p/no-such-link"),  # 404: error pages too
    ]
    for client, path in pages:
        answer = client.get(path)
        assert answer.status_code in (200, 404), path
        assert_strict(answer, path)
    payment = start(verified, link)
    for path in (f"/pay/sandbox/{payment.out_trade_no}/", f"/p/{link.token}/receipt/"):
        if path.endswith("/receipt/"):
            press(verified, payment, "paid")
        answer = verified.get(path)
        assert answer.status_code == 200, path
        assert_strict(answer, path)


def test_the_bill_pages_forms_may_lead_to_the_channels_checkouts(verified, link, settings):
    settings.PAYMENT_CHANNELS = ["alipay", "wechat", "sandbox"]
    settings.ALIPAY_APP_ID = settings.ALIPAY_APP_PRIVATE_KEY = settings.ALIPAY_PUBLIC_KEY = "set"
    settings.ALIPAY_GATEWAY_URL = "https://openapi.alipay.com/gateway.do"
    for name in ("MCHID", "APPID", "PRIVATE_KEY", "CERT_SERIAL_NO", "APIV3_KEY", "PUBLIC_KEY"):
        setattr(settings, f"WECHAT_{name}", "set")
    settings.WECHAT_PUBLIC_KEY_ID = "set"

    bill_page = verified.get(f"/p/{link.token}/bill/")

    assert policy(bill_page)["form-action"] == [
        "'self'",
        "https://openapi.alipay.com",
        "https://*.alipay.com",
        "https://*.alipaydev.com",
        "https://wx.tenpay.com",
    ]
    assert policy(verified.get("/me/"))["form-action"] == ["'self'"]  # that page only


def test_staff_pages_have_the_strict_policy(
    window_clerk, finance_officer, collector, signed_patient
):
    pages = [
        (None, "/admin/login/"),
        (window_clerk, "/admin/"),
        (window_clerk, "/admin/accounts/patient/desk/?q=nobody"),
        (window_clerk, f"/admin/accounts/creditagreement/{signed_patient.pk}/print/"),
        (finance_officer, "/admin/billing/bill/"),
        (finance_officer, "/admin/two-factor/"),
        (collector, "/admin/billing/collectioncase/"),
    ]
    for user, path in pages:
        answer = logged_in(user).get(path) if user else Client().get(path)
        assert answer.status_code == 200, path
        assert_strict(answer, path)


def test_the_api_has_a_policy_in_the_sites_process(his, card):
    answer = his.get(f"eligibility/?citizen_card={card}")
    assert answer.status_code == 200
    assert_strict(answer, "/api/v1/eligibility/")


@pytest.fixture
def api_process(settings):
    """The HIS API's own process (creditcare/settings_api.py): its URLs and middleware."""
    from creditcare import settings_api

    settings.ROOT_URLCONF = settings_api.ROOT_URLCONF
    settings.MIDDLEWARE = settings_api.MIDDLEWARE
    settings.CONTENT_SECURITY_POLICY = settings_api.CONTENT_SECURITY_POLICY


def test_the_apis_own_process_allows_nothing(api_process, his, card):
    for answer in (his.get(f"eligibility/?citizen_card={card}"), his.get("visits/999/")):
        assert policy(answer) == {"default-src": ["'none'"], "frame-ancestors": ["'none'"]}


@pytest.mark.parametrize("process", ["site", "api"])
def test_the_api_docs_have_their_own_policy(process, request):
    if process == "api":
        request.getfixturevalue("api_process")

    docs = Client().get("/api/v1/docs/")
    script = Client().get("/api/v1/docs/?script=")

    assert docs.status_code == 200 and script.status_code == 200
    directives = policy(docs)
    assert directives["default-src"] == ["'self'"]
    assert "script-src" not in directives and "style-src" not in directives  # 'self'
    assert directives["img-src"] == ["'self'", "data:"]  # Swagger UI's icons
    assert directives["frame-ancestors"] == ["'none'"]
    assert b"?script=" in docs.content and b"SwaggerUIBundle(" in script.content


INLINE = [
    (r"<script(?![^>]*\ssrc=)[^>]*>", "an inline script"),
    (r"<style\b", "a style element"),
    (r"\sstyle=", "a style attribute"),
    (r"\son[a-z]+=", "an event handler attribute"),
    (r"javascript:", "a javascript: URL"),
]


def test_no_template_holds_anything_inline():
    """What the policy refuses would silently not work: none of it in our templates."""
    found = []
    for template in Path(django_settings.BASE_DIR, "templates").rglob("*.html"):
        text = template.read_text()
        for pattern, what in INLINE:
            if re.search(pattern, text):
                found.append(f"{template.name}: {what}")
    assert found == []
