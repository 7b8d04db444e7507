"""A 6,000 CNY bill on a phone: after the SMS code the page asks for the last 6 characters
of the patient's ID number before it shows the bill (issue 17, seed 004)."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from accounts import services as account_services
from billing.visits import services
from notifications.models import SmsMessage
from tests.e2e.browser import launch, needs_chromium
from tests.e2e.visits import visit_closed
from tests.factories import InstitutionFactory, PatientFactory, StaffFactory

SCREENSHOTS = Path(settings.BASE_DIR) / "test-output" / "e2e"

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture
def large_bill():
    hospital = InstitutionFactory(name="第一人民医院")
    clerk = StaffFactory(institution=hospital)
    patient = PatientFactory(phone="+8613812345679")
    agreement = account_services.agreement_sign(patient=patient, institution=hospital, actor=clerk)
    account_services.credit_limit_change(
        credit_line=agreement.patient.credit_lines.get(pool="inpatient"),
        new_limit=Decimal("20000.00"),
        reason="长期住院",
        source="staff",
        actor=clerk,
    )
    amount = Decimal("6000.00")
    line = services.ChargeLine("1", "B", "床位费", "bed", Decimal("1"), amount, amount, amount)
    visit_closed(
        patient=patient, hospital=hospital, his_visit_id="ZY-E2E", lines=[line], kind="inpatient"
    )
    return patient


def test_a_large_bill_asks_for_the_second_factor(server, large_bill, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    body = SmsMessage.objects.get(template="visit_ended").body
    url = server.url + re.search(r"/p/[A-Za-z0-9_-]+", body).group(0)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page.goto(url)
        with page.expect_navigation():
            page.click("button.secondary")
        code = re.search(r"\d{6}", SmsMessage.objects.get(template="verification_code").body)
        page.fill("#code", code.group(0))
        with page.expect_navigation():
            page.click("button[type=submit]:not(.secondary)")

        assert page.url.endswith("/check/")  # not the bill yet
        assert "¥6000.00" in page.inner_text("[data-amount]")
        page.fill("#answer", "000000")
        with page.expect_navigation():
            page.click("[data-strong-check] button")
        assert "不符" in page.inner_text("[role=alert]")
        page.screenshot(path=SCREENSHOTS / "strong-check.png", full_page=True)
        page.fill("#answer", large_bill.id_number[-6:])
        with page.expect_navigation():
            page.click("[data-strong-check] button")
        assert page.url.endswith("/bill/")
        assert page.inner_text("[data-self-pay]") == "¥6000.00"
        browser.close()
        # The reads above ran in Playwright's greenlet, with a connection of its own.
        connections.close_all()
