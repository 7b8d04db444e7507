"""Signing up online on a phone (issue 17): a resident end to end; people from outside the
region by their credit score (700 joins with that band's limits, 600 is told why not)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from accounts.demo import demo_resident_id
from accounts.identity import resident_id_check_character
from accounts.models import CreditScore, Patient
from notifications.models import SmsMessage
from tests.e2e.browser import launch, needs_chromium
from tests.factories import InstitutionFactory

SCREENSHOTS = Path(settings.BASE_DIR) / "test-output" / "e2e"
OUTSIDE_ID = "34010419850312042" + resident_id_check_character("34010419850312042")

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


def sign_up(page, base: str, phone: str, fields: dict, shots: str) -> None:
    page.goto(base + "/signup/")
    page.fill("#phone", phone)
    with page.expect_navigation():
        page.click("button.secondary")
    body = SmsMessage.objects.filter(template="verification_code").latest("pk").body
    page.fill("#code", re.search(r"\b\d{6}\b", body).group(0))
    with page.expect_navigation():
        page.click("button[type=submit]:not(.secondary)")
    for name, value in fields.items():
        if value is True:
            page.check(f"[name={name}]")
        elif value is False:
            page.uncheck(f"[name={name}]")
        elif name in ("id_type", "institution"):
            page.select_option(f"[name={name}]", value)
        else:
            page.fill(f"[name={name}]", value)
    page.screenshot(path=SCREENSHOTS / f"{shots}-1-details.png", full_page=True)
    with page.expect_navigation():
        page.click("[data-signup-step=details] button[type=submit]")
    assert page.url.endswith("/signup/agreement/")
    page.screenshot(path=SCREENSHOTS / f"{shots}-2-agreement.png", full_page=True)
    page.check("[name=accept]")
    with page.expect_navigation():
        page.click("[data-signup-step=agreement] button[type=submit]")
    page.screenshot(path=SCREENSHOTS / f"{shots}-3-result.png", full_page=True)


@pytest.fixture
def hospital():
    return InstitutionFactory(name="区第一人民医院")


def test_a_resident_signs_up_online(server, hospital, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        fields = {
            "name": "陈静",
            "id_number": demo_resident_id("19850312", "042"),
            "citizen_card": "SG00000001",
            "institution": str(hospital.pk),
        }
        sign_up(page, server.url, "13912345678", fields, "signup-resident")
        assert page.inner_text("[data-limit=outpatient]") == "¥300.00"
        assert page.inner_text("[data-limit=inpatient]") == "¥5000.00"
        browser.close()
        connections.close_all()
    assert Patient.objects.get().agreement.channel == "online"


@pytest.mark.parametrize(("score", "outpatient"), [(700, "¥360.00"), (600, None)])
def test_from_outside_the_region_by_score(
    server, hospital, monkeypatch, settings, score, outpatient
):
    from playwright.sync_api import sync_playwright

    settings.CREDIT_SCORE_PROVIDER = "csv"
    CreditScore.objects.create(citizen_card="SG00000009", score=score, source="csv")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        fields = {
            "name": "王磊",
            "id_number": OUTSIDE_ID,
            "citizen_card": "SG00000009",
            "institution": str(hospital.pk),
            "resident_of_region": False,
            "score_consent": True,
        }
        sign_up(page, server.url, "13912345679", fields, f"signup-outside-{score}")
        if outpatient:
            assert page.inner_text("[data-limit=outpatient]") == outpatient  # x1.20
        else:
            reason = page.inner_text("[role=alert]")
            assert "650" in reason and "窗口" in reason
        browser.close()
        connections.close_all()
    assert Patient.objects.exists() == bool(outpatient)
