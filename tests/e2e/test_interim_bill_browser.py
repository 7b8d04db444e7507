"""A long stay billed part-way, on the patient's phone: the interim bill's SMS link, the
code, the bill of the days so far (the stay goes on), paid in the sandbox; the credit it held
comes back while the stay's later charges stay held."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from accounts import services as account_services
from accounts.models import CreditLine
from billing.visits import services
from notifications.models import SmsMessage
from tests.e2e.browser import launch, needs_chromium
from tests.factories import InstitutionFactory, PatientFactory, StaffFactory

SCREENSHOTS = Path(settings.BASE_DIR) / "test-output" / "e2e"

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]
ONE = Decimal("1")


def day_lines(day: int) -> list[services.ChargeLine]:
    """A day on the ward: the bed (60.00) and an antibiotic (240.00)."""
    daily = [
        ("B001", "床位费", "bed", Decimal("60.00")),
        ("D101", "头孢呋辛", "drug", Decimal("240.00")),
    ]
    return [
        services.ChargeLine(f"{day}-{code}", code, name, category, ONE, amount, amount, amount)
        for code, name, category, amount in daily
    ]


@pytest.fixture
def stay():
    """Ten days of a stay on an interim bill (3,000.00, 900.00 self-pay), one day since."""
    hospital = InstitutionFactory(name="第一人民医院")
    clerk = StaffFactory(institution=hospital)
    patient = PatientFactory(phone="+8613812345680")
    account_services.agreement_sign(patient=patient, institution=hospital, actor=clerk)
    visit, _ = services.visit_open(
        institution=hospital,
        api_key=None,
        citizen_card=patient.citizen_card,
        kind="inpatient",
        his_visit_id="ZY-E2E-2",
    )
    lines = [line for day in range(1, 11) for line in day_lines(day)]
    services.charges_post(visit_id=visit.pk, institution=hospital, api_key=None, lines=lines)
    services.visit_interim(
        visit_id=visit.pk,
        institution=hospital,
        api_key=None,
        his_settlement_id="ZJ-E2E-1",
        settlement=services.Settlement(
            Decimal("3000.00"),
            Decimal("2100.00"),
            Decimal("0.00"),
            Decimal("900.00"),
            Decimal("0.00"),
        ),
    )
    services.charges_post(
        visit_id=visit.pk, institution=hospital, api_key=None, lines=day_lines(11)
    )
    return patient


def test_the_patient_pays_the_interim_bill_of_a_stay_that_goes_on(server, stay, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    body = SmsMessage.objects.get(template="interim_bill").body
    assert "住院仍在继续" in body and "900.00" in body
    url = server.url + re.search(r"/p/[A-Za-z0-9_-]+", body).group(0)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page.goto(url)
        assert "住院仍在继续" in page.inner_text("[data-interim]")
        with page.expect_navigation():
            page.click("button.secondary")
        code = re.search(r"\d{6}", SmsMessage.objects.get(template="verification_code").body)
        page.fill("#code", code.group(0))
        with page.expect_navigation():
            page.click("button[type=submit]:not(.secondary)")

        assert page.url.endswith("/bill/")
        assert "住院仍在继续" in page.inner_text("[data-interim]")
        assert page.inner_text("[data-total]") == "¥3000.00"
        assert page.inner_text("[data-self-pay]") == "¥900.00"
        # The ten days on this bill, not the day since.
        assert page.locator("text=床位费").count() == 10
        page.screenshot(path=SCREENSHOTS / "interim-bill.png", full_page=True)

        with page.expect_navigation():
            page.click("button[data-channel=sandbox]")
        with page.expect_navigation():
            page.click("button[data-status=PAID]")
        assert re.fullmatch(r"YD\d{10}", page.inner_text("[data-invoice]"))
        browser.close()
        # The reads above ran in Playwright's greenlet, with a connection of its own.
        connections.close_all()

    line = CreditLine.objects.get(patient=stay, pool="inpatient")
    assert line.used == Decimal("300.00")  # the day since the interim bill, still held
