"""Finance's morning in a real browser, in Chinese: sign in (with the authenticator app),
open the day's reconciliation run with a difference (a payment whose notification was lost),
resolve it from the statement, see the run closed, the day's settlement and the reports with
their charts. Screenshots go to test-output/e2e/.

Needs Debian's chromium (`.ci/run` installs it; the README says how).
"""

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from accounts.models import Institution
from billing.models import (
    Bill,
    BillStatus,
    DailyVisitCount,
    PaymentLink,
    ReconciliationRun,
    RunStatus,
)
from billing.payments.alerts import alerts_check
from billing.payments.reconciliation import reconciliation_run
from billing.payments.settlement import settlement_statements_build
from billing.reports import REPORTS
from tests.billing.paying import press, sent_code, start
from tests.e2e.browser import launch, needs_chromium
from tests.e2e.test_content_security_policy_browser import (  # noqa: F401 (fixture)
    SCREENSHOTS,
    code_for,
    demo,
    report,
    visit,
)

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


def lost_notification() -> Bill:
    """The demo's overdue bill paid at the sandbox, its notification lost."""
    link = PaymentLink.objects.get(bill__visit__his_visit_id="DEMO-OVERDUE-1")
    patient = Client()
    patient.post(f"/p/{link.token}/code/")
    patient.post(f"/p/{link.token}/verify/", {"code": sent_code()})
    press(patient, start(patient, link), "paid-silently")
    return link.bill


def test_finance_resolves_a_difference_of_the_morning_run(server, demo, monkeypatch, settings):  # noqa: F811
    from playwright.sync_api import sync_playwright

    settings.LANGUAGE_CODE = "zh-hans"  # the site's language, as deployed: records' words
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the test's ORM reads
    bill = lost_notification()
    run, _ = reconciliation_run(channel="sandbox", day=timezone.localdate())
    assert run.status == RunStatus.DIFFERENCES
    assert alerts_check() == (1, 0)  # the whole day's volume differs
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        desk = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        visit(desk, f"{server.url}/admin/login/")
        desk.fill("#id_username", "finance")
        desk.fill("#id_password", "finance-demo-2026")
        with desk.expect_navigation():
            desk.click("input[type=submit]")
        desk.wait_for_url("**/admin/two-factor/")
        desk.fill("#id_code", code_for(desk.inner_text("[data-secret]")))
        with desk.expect_navigation():
            desk.click("input[type=submit]")

        assert "待处理对账差异" in desk.inner_text("[data-alerts]")  # the home page says so
        desk.screenshot(path=SCREENSHOTS / "finance-0-home.png", full_page=True)
        visit(desk, f"{server.url}/admin/billing/reconciliationrun/")
        assert "待处理差异" in desk.inner_text("#result_list")
        desk.screenshot(path=SCREENSHOTS / "finance-1-runs.png", full_page=True)
        with desk.expect_navigation():
            desk.click(f"a[href$='/reconciliationrun/{run.pk}/change/']")
        assert "渠道已收款，我方无记录" in desk.inner_text("#content")
        desk.screenshot(path=SCREENSHOTS / "finance-2-run.png", full_page=True)

        with desk.expect_navigation():
            desk.click("a.button:text('处理')")
        desk.select_option("#id_resolution", "settled")
        desk.fill("#id_reason", "支付通知丢失，按对账单入账")
        desk.screenshot(path=SCREENSHOTS / "finance-3-resolve.png", full_page=True)
        with desk.expect_navigation():
            desk.click("input[type=submit]")
        assert "已处理" in desk.inner_text(".messagelist")
        assert "按对账单入账" in desk.inner_text("#content")
        desk.screenshot(path=SCREENSHOTS / "finance-4-resolved.png", full_page=True)

        # What the hospital is owed for the day, now that the payment is in our books.
        settlement_statements_build(day=timezone.localdate())
        visit(desk, f"{server.url}/admin/billing/settlementstatement/")
        assert "标记已划付" in desk.inner_text("#result_list")
        desk.screenshot(path=SCREENSHOTS / "finance-5-settlement.png", full_page=True)
        with desk.expect_navigation():
            desk.click("a.button:text('标记已划付')")
        desk.screenshot(path=SCREENSHOTS / "finance-5b-pay-out.png", full_page=True)
        for name, path in (
            ("finance-8-differences", "/admin/billing/reconciliationdifference/"),
            ("finance-9-alerts", "/admin/billing/alert/"),
            ("finance-10-visit-counts", "/admin/billing/dailyvisitcount/"),
        ):
            visit(desk, server.url + path)
            desk.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

        # And the reports, drawn by Chart.js.
        visit(desk, f"{server.url}/admin/billing/bill/reports/")
        desk.wait_for_function(
            "[...document.querySelectorAll('canvas[data-chart]')]"
            f".filter(c => window.Chart.getChart(c)).length === {len(REPORTS)}"
        )
        desk.screenshot(path=SCREENSHOTS / "finance-6-reports.png", full_page=True)
        visit(desk, f"{server.url}/admin/billing/collectioncase/overview/")
        desk.wait_for_function(
            "[...document.querySelectorAll('canvas[data-chart]')]"
            ".filter(c => window.Chart.getChart(c)).length === 4"
        )
        desk.screenshot(path=SCREENSHOTS / "finance-7-collections-overview.png", full_page=True)
        browser.close()
        connections.close_all()  # Playwright's greenlet had a connection of its own

    run.refresh_from_db()
    bill.refresh_from_db()
    assert run.status == RunStatus.CLOSED and bill.status == BillStatus.PAID
    assert alerts_check() == (0, 1)  # resolved: the alert clears
    assert ReconciliationRun.objects.count() == 1


def test_the_window_clerk_closes_the_till(server, demo, monkeypatch):  # noqa: F811
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the test's ORM reads
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        desk = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        visit(desk, f"{server.url}/admin/login/")
        desk.fill("#id_username", "window")
        desk.fill("#id_password", "window-demo-2026")
        with desk.expect_navigation():
            desk.click("input[type=submit]")
        with desk.expect_navigation():
            desk.click("a.button:text('交班清点')")
        desk.fill("#id_cash", "120.00")
        desk.screenshot(path=SCREENSHOTS / "window-1-close-till.png", full_page=True)
        with desk.expect_navigation():
            desk.click("input[type=submit]")
        assert "不平" in desk.inner_text(".messagelist")
        desk.screenshot(path=SCREENSHOTS / "window-2-till-closed.png", full_page=True)
        browser.close()
        connections.close_all()
    run = ReconciliationRun.objects.get(channel="window")
    assert run.status == RunStatus.DIFFERENCES


def test_management_reads_the_reports_with_their_charts(server, demo, monkeypatch):  # noqa: F811
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the test's ORM reads
    for n, institution in enumerate(Institution.objects.order_by("pk")):
        DailyVisitCount.objects.create(
            institution=institution, day=timezone.localdate(), outpatient=40 + n, inpatient=5
        )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        desk = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        desk.on("console", lambda message: report(problems, message))  # favicon.ico aside
        visit(desk, f"{server.url}/admin/login/")
        desk.fill("#id_username", "manager")
        desk.fill("#id_password", "manager-demo-2026")
        with desk.expect_navigation():
            desk.click("input[type=submit]")
        visit(desk, f"{server.url}/admin/billing/bill/reports/")
        charts = len(REPORTS)
        desk.wait_for_function(
            f"document.querySelectorAll('canvas[data-chart]').length === {charts}"
        )
        drawn = desk.evaluate(
            "[...document.querySelectorAll('canvas[data-chart]')]"
            ".filter(c => window.Chart.getChart(c)).length"
        )
        assert drawn == charts  # every chart drawn by Chart.js
        assert "每月签约" in desk.inner_text("#content")
        desk.screenshot(path=SCREENSHOTS / "management-1-reports.png", full_page=True)
        browser.close()
        connections.close_all()
    assert problems == []
