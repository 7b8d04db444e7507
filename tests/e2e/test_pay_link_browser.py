"""The patient's path in a real browser (Chromium, headless, a phone's screen): the SMS link
from the outbox, ask for the code, type it, see the settlement page, pay in the sandbox
channel, see the receipt with the invoice number (also in the receipt SMS), download the
e-invoice's PDF from it, then sign in to ``/me/`` with the phone and see the paid bill and the
credit back.

Needs Debian's chromium (`.ci/run` installs it; the README says how).
"""

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
import zxingcpp
from django.conf import settings
from django.db import connections
from django.utils import timezone
from pypdf import PdfReader

from accounts import services as account_services
from billing.models import EInvoice
from billing.visits import services
from notifications.models import SmsMessage, VerificationCode
from tests.e2e.browser import launch, needs_chromium
from tests.e2e.visits import visit_closed
from tests.factories import InstitutionFactory, PatientFactory, StaffFactory

SCREENSHOTS = Path(settings.BASE_DIR) / "test-output" / "e2e"

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


def sms_link(live_server_url: str) -> str:
    body = SmsMessage.objects.get(template="visit_ended").body
    path = re.search(r"/p/[A-Za-z0-9_-]+", body).group(0)
    return live_server_url + path


@pytest.fixture
def closed_visit():
    hospital = InstitutionFactory(name="第一人民医院")
    clerk = StaffFactory(institution=hospital)
    patient = PatientFactory(phone="+8613812345678")
    account_services.agreement_sign(patient=patient, institution=hospital, actor=clerk)
    lines = [
        services.ChargeLine(
            "1",
            "A",
            "普通门诊诊查费",
            "registration",
            Decimal("1"),
            Decimal("12"),
            Decimal("12.00"),
            Decimal("12.00"),
        ),
        services.ChargeLine(
            "2",
            "C",
            "阿莫西林胶囊",
            "drug",
            Decimal("24"),
            Decimal("0.45"),
            Decimal("10.80"),
            Decimal("10.80"),
        ),
    ]
    return visit_closed(
        patient=patient,
        hospital=hospital,
        his_visit_id="E2E-1",
        lines=lines,
        insurance_fund="10.00",
        personal_account="2.80",
    )


def test_patient_pays_path_on_a_phone(server, closed_visit, monkeypatch, settings):
    from playwright.sync_api import sync_playwright

    settings.SANDBOX_EINVOICE_DELAY_SECONDS = 0  # the platform issues at once

    # Playwright's sync API runs an event loop in this thread; the test's own ORM reads
    # (the SMS outbox) are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    url = sms_link(server.url)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page.goto(url)
        assert "¥10.00" in page.inner_text("[data-amount]")
        assert "138****5678" in page.inner_text("body")
        page.screenshot(path=SCREENSHOTS / "1-link.png", full_page=True)

        with page.expect_navigation():
            page.click("button.secondary")  # 获取验证码
        assert "验证码已发送" in page.inner_text("body")
        code = re.search(r"\d{6}", SmsMessage.objects.get(template="verification_code").body).group(
            0
        )
        page.fill("#code", code)
        with page.expect_navigation():
            page.click("button[type=submit]:not(.secondary)")
        page.screenshot(path=SCREENSHOTS / "2-settlement.png", full_page=True)

        assert page.url.endswith("/bill/")
        text = page.inner_text("body")
        assert "结算清单" in text and "阿莫西林胶囊" in text
        assert page.inner_text("[data-self-pay]") == "¥10.00"
        assert "24 × ¥0.45" in text

        with page.expect_navigation():
            page.click("button[data-channel=sandbox]")
        page.screenshot(path=SCREENSHOTS / "3-checkout.png", full_page=True)
        with page.expect_navigation():
            page.click("button[data-status=PAID]")
        page.screenshot(path=SCREENSHOTS / "4-receipt.png", full_page=True)
        invoice = page.inner_text("[data-invoice]")
        assert re.fullmatch(r"YD\d{10}", invoice)
        receipt_sms = SmsMessage.objects.get(template="payment_received").body
        assert invoice in receipt_sms and "电子票据" in receipt_sms

        # The e-invoice, issued by the platform meanwhile: downloaded and read back.
        einvoice = EInvoice.objects.get()
        assert page.inner_text("[data-einvoice=issued]").count(einvoice.number) == 1
        with page.expect_download() as download:
            page.click("[data-einvoice=issued] a")
        pdf = PdfReader(download.value.path()).pages[0]
        text = "".join(pdf.extract_text().split())
        assert "医疗收费电子票据" in text and einvoice.number in text and invoice in text
        assert "¥22.80" in text and "个人现金支付：10.00" in text
        assert "挂号12.00" in text and "药品10.80" in text  # by category, not by item
        [qr] = zxingcpp.read_barcodes(pdf.images[0].image)
        assert qr.text == (
            f"{einvoice.code},{einvoice.number},{einvoice.check_code},"
            f"{einvoice.issued_on:%Y%m%d},22.80"
        )
        # Someone else with the receipt link sees it paid and the invoice number, no more.
        stranger = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        stranger.goto(page.url)
        stranger.screenshot(path=SCREENSHOTS / "4b-receipt-without-the-code.png", full_page=True)
        assert stranger.inner_text("[data-invoice]") == invoice
        assert "阿莫西林胶囊" not in stranger.content()
        stranger.close()

        # The patient's own page: phone, code, and the paid bill with its invoice. (A minute
        # passes first: one phone gets one code a minute.)
        VerificationCode.objects.update(created_at=timezone.now() - dt.timedelta(minutes=2))
        page.goto(server.url + "/me/")
        page.fill("#phone", "13812345678")
        with page.expect_navigation():
            page.click("button.secondary")
        me_code = re.search(
            r"\d{6}",
            SmsMessage.objects.filter(template="verification_code").latest("pk").body,
        ).group(0)
        page.fill("#code", me_code)
        with page.expect_navigation():
            page.click("button[type=submit]:not(.secondary)")
        page.screenshot(path=SCREENSHOTS / "5-me.png", full_page=True)
        assert invoice in page.inner_text("[data-bill=paid]")
        with page.expect_download() as again:  # the e-invoice from /me/ too
            page.click("[data-bill=paid] [data-einvoice-download]")
        assert PdfReader(again.value.path()).pages[0].images[0].image is not None
        assert page.inner_text("[data-available=outpatient]") == "¥300.00"
        browser.close()
        # The reads above ran in Playwright's greenlet, which has a database connection of
        # its own: closed here, or it outlives the test and keeps the test database in use.
        connections.close_all()
