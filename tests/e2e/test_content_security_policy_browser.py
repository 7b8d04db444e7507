"""The pages work under the Content-Security-Policy in a real browser, which reports no
violation and no error: the patient's path to a receipt, a finance officer's first sign-in
(setting up the authenticator app from the page's secret), admin pages of every kind, the
printable agreement's button, and the HIS API's docs.

Needs Debian's chromium (`.ci/run` installs it; the README says how).
"""

import base64
import io
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection, connections
from django.db.migrations.loader import MigrationLoader
from django_otp.oath import TOTP

from accounts import roles
from accounts.models import CreditAgreement
from billing.models import Bill, CollectionCase, PaymentLink
from tests.billing.paying import sent_code
from tests.e2e.browser import launch, needs_chromium

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]

SCREENSHOTS = Path(django_settings.BASE_DIR) / "test-output" / "e2e"

# Reported to the test as console errors: the browser's own reports of a refusal are console
# messages too, but this one names the directive.
WATCH_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
});
window.print = () => { window.printed = true; };
"""


def report(problems: list[str], message) -> None:
    # The browser asks every page for /favicon.ico, which we do not have: not the policy's.
    if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
        problems.append(f"{message.location['url']}: {message.text}")


def watched_page(browser, problems: list[str], **options):
    page = browser.new_page(**options)
    page.add_init_script(WATCH_VIOLATIONS)
    page.on("console", lambda message: report(problems, message))
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page


def visit(page, url: str) -> None:
    response = page.goto(url)
    assert response.status == 200, url
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"], url
    page.wait_for_load_state("networkidle")


def code_for(secret: str) -> str:
    """What an authenticator app shows for the secret typed in from the page."""
    letters = secret.replace(" ", "")
    key = base64.b32decode(letters + "=" * (-len(letters) % 8))
    totp = TOTP(key)
    totp.time = time.time()
    return f"{totp.token():06d}"


@pytest.fixture
def demo(settings):
    # The roles' groups are rows of data migrations, which an earlier transactional test's
    # flush removed: made again as the migrations make them.
    roles.sync_roles(MigrationLoader(connection).project_state().apps)
    settings.OTP_REQUIRED_ROLES = [roles.FINANCE, roles.CREDIT_OFFICERS]
    call_command("seed_demo", stdout=io.StringIO())


def test_pages_work_under_the_policy(server, demo, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the test's ORM reads
    link = PaymentLink.objects.get(bill=Bill.objects.get(visit__his_visit_id="DEMO-OVERDUE-1"))
    agreement = CreditAgreement.objects.filter(signed_at__isnull=False).first()
    case = CollectionCase.objects.get()
    problems: list[str] = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)

        # The patient's path: link, code, settlement, the sandbox's checkout, the receipt.
        phone = watched_page(browser, problems, viewport={"width": 390, "height": 844})
        visit(phone, f"{server.url}/p/{link.token}")
        with phone.expect_navigation():
            phone.click("button.secondary")
        phone.fill("#code", sent_code())
        with phone.expect_navigation():
            phone.click("button[type=submit]:not(.secondary)")
        assert phone.url.endswith("/bill/")
        with phone.expect_navigation():
            phone.click("button[data-channel=sandbox]")
        with phone.expect_navigation():
            phone.click("button[data-status=PAID]")
        assert phone.inner_text("[data-invoice]")
        visit(phone, f"{server.url}/me/")
        assert phone.eval_on_selector("body", "b => getComputedStyle(b).backgroundColor") == (
            "rgb(244, 246, 248)"  # the stylesheet applies
        )

        # A finance officer's first sign-in: the password, then the authenticator's set-up.
        desk = watched_page(browser, problems, viewport={"width": 1280, "height": 900})
        visit(desk, f"{server.url}/admin/login/")
        desk.screenshot(path=SCREENSHOTS / "staff-1-sign-in.png")
        desk.fill("#id_username", "finance")
        desk.fill("#id_password", "finance-demo-2026")
        with desk.expect_navigation():
            desk.click("input[type=submit]")
        desk.wait_for_url("**/admin/two-factor/")
        assert desk.locator(".two-factor-qr svg").is_visible()
        desk.screenshot(path=SCREENSHOTS / "staff-2-two-factor-set-up.png", full_page=True)
        desk.fill("#id_code", code_for(desk.inner_text("[data-secret]")))
        with desk.expect_navigation():
            desk.click("input[type=submit]")
        assert desk.url == f"{server.url}/admin/"
        for path in ("/admin/billing/bill/", "/admin/billing/collectioncase/overview/"):
            visit(desk, server.url + path)
        desk.context.clear_cookies()

        # The administrator: the sign-up desk, change forms, a collection case, the printable
        # agreement.
        visit(desk, f"{server.url}/admin/login/")
        desk.fill("#id_username", "admin")
        desk.fill("#id_password", "admin-demo-2026")
        with desk.expect_navigation():
            desk.click("input[type=submit]")
        for path in (
            "/admin/",
            "/admin/accounts/patient/desk/?q=DEMO",
            f"/admin/accounts/patient/{agreement.patient_id}/change/",
            f"/admin/accounts/creditagreement/{agreement.pk}/change/",
            f"/admin/billing/collectioncase/{case.pk}/change/",
        ):
            visit(desk, server.url + path)
        visit(desk, f"{server.url}/admin/accounts/creditagreement/{agreement.pk}/print/")
        desk.click("[data-print]")
        assert desk.evaluate("window.printed") is True  # the button's script runs

        # The HIS API's docs: Swagger UI draws the operations.
        visit(desk, f"{server.url}/api/v1/docs/")
        desk.wait_for_selector(".opblock-summary")
        assert "CreditCare HIS API" in desk.inner_text(".information-container")

        browser.close()
        # The reads above ran in Playwright's greenlet, which has a database connection of
        # its own: closed here, or it outlives the test and keeps the test database in use.
        connections.close_all()
    assert problems == []
