"""A daughter pays her father's bill from her own phone (issue 17, seed 002): the bill SMS
comes to her phone too, she has the code sent to it, and pays."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from accounts import services as account_services
from accounts.family import family_payer_add
from billing.models import BillStatus
from billing.visits import services
from notifications.models import SmsMessage
from tests.e2e.browser import launch, needs_chromium
from tests.e2e.visits import visit_closed
from tests.factories import InstitutionFactory, PatientFactory, StaffFactory

SCREENSHOTS = Path(settings.BASE_DIR) / "test-output" / "e2e"
DAUGHTER = "+8613911112222"

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture
def father_s_bill():
    hospital = InstitutionFactory(name="第一人民医院")
    clerk = StaffFactory(institution=hospital)
    father = PatientFactory(phone="+8613812340000", name="张建国")
    account_services.agreement_sign(patient=father, institution=hospital, actor=clerk)
    family_payer_add(patient=father, phone=DAUGHTER, actor=clerk)
    amount = Decimal("36.50")
    line = services.ChargeLine("1", "D", "降压药", "drug", Decimal("1"), amount, amount, amount)
    return visit_closed(patient=father, hospital=hospital, his_visit_id="MZ-FAMILY", lines=[line])


def test_a_family_member_receives_the_code_and_pays(server, father_s_bill, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    copy = SmsMessage.objects.get(to=DAUGHTER, template="visit_ended").body
    assert "张建国" in copy
    url = server.url + re.search(r"/p/[A-Za-z0-9_-]+", copy).group(0)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page.goto(url)
        page.check("[data-code-to] input:not([value=patient])")
        page.screenshot(path=SCREENSHOTS / "family-1-choose-phone.png", full_page=True)
        with page.expect_navigation():
            page.click("button.secondary")
        assert "139****2222" in page.inner_text(".notice")
        code_sms = SmsMessage.objects.get(to=DAUGHTER, template="verification_code").body
        assert "张建国" in code_sms  # whose bill the code is for
        page.fill("#code", re.search(r"\b\d{6}\b", code_sms).group(0))
        with page.expect_navigation():
            page.click("button[type=submit]:not(.secondary)")
        assert page.url.endswith("/bill/")
        with page.expect_navigation():
            page.click("button[data-channel=sandbox]")
        with page.expect_navigation():
            page.click("button[data-status=PAID]")
        page.screenshot(path=SCREENSHOTS / "family-2-paid.png", full_page=True)
        assert re.fullmatch(r"YD\d{10}", page.inner_text("[data-invoice]"))
        browser.close()
        connections.close_all()
    father_s_bill.bill.refresh_from_db()
    assert father_s_bill.bill.status == BillStatus.PAID
