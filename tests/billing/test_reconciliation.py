"""Each morning's reconciliation, stored and worked by finance: a day at Alipay (the fake
Alipay over HTTP, reached through the real client) with a lost notification, a refund
Alipay lacks, an amount that differs and an order Alipay took twice gives exactly those
differences; resolving each puts the books right; re-running the day changes nothing."""

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from billing.models import (
    BillStatus,
    DifferenceEvent,
    DifferenceKind,
    DifferenceStatus,
    PaymentLink,
    PaymentStatus,
    ReconciliationRun,
    Refund,
    RefundStatus,
    Resolution,
    RunStatus,
)
from billing.payments.gateways import GatewayError
from billing.payments.reconciliation import difference_resolve, reconciliation_run
from billing.tasks import reconcile_channel, reconcile_statements
from creditcare.errors import DomainError
from tests.billing.paying import sent_code
from tests.billing.test_alipay import _refund, alipay, notify, start  # noqa: F401 (fixture)
from tests.billing.test_api import settlement
from tests.conftest import logged_in
from tests.factories import StaffFactory
from tests.fake_http import Answer

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)  # 10:00 in China


def new_link(his, card, number: int) -> PaymentLink:
    """A closed outpatient visit: 35.00 to pay."""
    visit = his.open_visit(card, his_visit_id=f"V{number}")
    his.charge(visit["id"], "L1", "100.00")
    his.post(f"visits/{visit['id']}/close/", settlement("100.00", "35.00", account="15.00"))
    return PaymentLink.objects.latest("pk")


def at_alipay(client, link, alipay, *, notified: bool = True):  # noqa: F811
    """The patient pays the link's bill at Alipay; its notification arrives, or is lost."""
    client.post(f"/p/{link.token}/code/")
    client.post(f"/p/{link.token}/verify/", {"code": sent_code()})
    payment, url = start(client, link, alipay)
    alipay.open_checkout(url)
    fields = alipay.pay(payment.out_trade_no)
    if notified:
        assert notify(client, fields).content == b"success"
    payment.refresh_from_db()
    return payment


@pytest.fixture
def finance():
    return StaffFactory(username="finance-alice", role="Finance")


@pytest.fixture
def day_at_alipay(client, his, card, alipay):  # noqa: F811
    """One day with each kind of mismatch: lost, refund_lacking, amount, twice."""
    with time_machine.travel(T0) as clock:
        lost = at_alipay(client, new_link(his, card, 1), alipay, notified=False)
        clock.shift(dt.timedelta(minutes=5))  # codes to one phone are spaced out
        refunded = at_alipay(client, new_link(his, card, 2), alipay)
        refund = _refund(refunded, "5.00")
        del alipay.trades[refunded.out_trade_no].refunds[refund.out_refund_no]  # lost there
        clock.shift(dt.timedelta(minutes=5))
        differs = at_alipay(client, new_link(his, card, 3), alipay)
        alipay.trades[differs.out_trade_no].amount = Decimal("35.50")
        clock.shift(dt.timedelta(minutes=5))
        twice = at_alipay(client, new_link(his, card, 4), alipay)
        alipay.charged_twice.add(twice.out_trade_no)
    return {"lost": lost, "refund": refund, "differs": differs, "twice": twice}


def run_day():
    with time_machine.travel(T0 + dt.timedelta(days=1, hours=-1)):  # 06:30 the next morning
        return reconciliation_run(channel="alipay", day=dt.date(2026, 11, 23))


def test_each_mismatch_is_one_difference_of_its_kind(day_at_alipay):
    run, comparison = run_day()

    assert run.status == RunStatus.DIFFERENCES
    found = {(d.kind, d.out_refund_no or d.out_trade_no) for d in run.differences.all()}
    assert found == {
        (DifferenceKind.MISSING_HERE, day_at_alipay["lost"].out_trade_no),
        (DifferenceKind.REFUND_MISSING_AT_CHANNEL, day_at_alipay["refund"].out_refund_no),
        (DifferenceKind.AMOUNT, day_at_alipay["differs"].out_trade_no),
        (DifferenceKind.DUPLICATE, day_at_alipay["twice"].out_trade_no),
    }
    amount = run.differences.get(kind=DifferenceKind.AMOUNT)
    assert (amount.channel_amount, amount.our_amount) == (Decimal("35.50"), Decimal("35.00"))
    lost = run.differences.get(kind=DifferenceKind.MISSING_HERE)
    assert lost.payment == day_at_alipay["lost"] and lost.channel_amount == Decimal("35.00")
    # Both sides counted: Alipay has 5 payments (one doubled); we recorded 3 and a refund.
    assert (run.channel_count, run.channel_total) == (5, Decimal("175.50"))
    assert (run.our_count, run.our_total) == (4, Decimal("100.00"))
    assert not comparison.balanced


def test_resolving_each_puts_the_books_right_and_a_rerun_changes_nothing(
    day_at_alipay,
    finance,
    alipay,  # noqa: F811
):
    run, _ = run_day()
    kinds = {d.kind: d for d in run.differences.all()}

    with time_machine.travel(T0 + dt.timedelta(days=1)):
        difference_resolve(
            difference=kinds[DifferenceKind.MISSING_HERE],
            resolution=Resolution.SETTLED,
            actor=finance,
            reason="通知丢失，按对账单入账",
        )
        difference_resolve(
            difference=kinds[DifferenceKind.REFUND_MISSING_AT_CHANNEL],
            resolution=Resolution.TIMING,
            actor=finance,
            reason="支付宝次日出账",
        )
        difference_resolve(
            difference=kinds[DifferenceKind.AMOUNT],
            resolution=Resolution.WRITTEN_OFF,
            actor=finance,
            reason="差额0.50元，核销",
        )
        difference_resolve(
            difference=kinds[DifferenceKind.DUPLICATE],
            resolution=Resolution.REFUNDED,
            actor=finance,
            reason="重复扣款，原路退回",
        )

    # The lost payment is in our books now, as the channel took it: the bill is paid.
    lost = day_at_alipay["lost"]
    lost.refresh_from_db()
    assert lost.status == PaymentStatus.SUCCEEDED and lost.bill.status == BillStatus.PAID
    assert timezone.localdate(lost.succeeded_at) == dt.date(2026, 11, 23)
    # The money Alipay took twice is asked back through Alipay.
    twice = day_at_alipay["twice"]
    refund = Refund.objects.get(payment=twice)
    assert (refund.amount, refund.reason) == (Decimal("35.00"), "重复扣款，原路退回")
    # Every resolution is on record: who, what, why.
    run.refresh_from_db()
    assert run.status == RunStatus.CLOSED and run.closed_at is not None
    events = DifferenceEvent.objects.order_by("pk")
    assert [(e.resolution, e.actor, e.reason) for e in events] == [
        (Resolution.SETTLED, finance, "通知丢失，按对账单入账"),
        (Resolution.TIMING, finance, "支付宝次日出账"),
        (Resolution.WRITTEN_OFF, finance, "差额0.50元，核销"),
        (Resolution.REFUNDED, finance, "重复扣款，原路退回"),
    ]
    before = [(d.pk, d.status, d.resolution, d.resolved_at) for d in run.differences.all()]

    run, comparison = run_day()

    # The settled payment now matches; what finance resolved stays as it was.
    assert run.status == RunStatus.CLOSED
    after = [(d.pk, d.status, d.resolution, d.resolved_at) for d in run.differences.all()]
    assert after == before
    assert DifferenceEvent.objects.count() == 4
    assert {d.kind for d in comparison.differences} == {
        DifferenceKind.REFUND_MISSING_AT_CHANNEL,
        DifferenceKind.AMOUNT,
        DifferenceKind.DUPLICATE,
    }


def test_a_difference_that_our_books_match_later_is_cleared_by_the_next_run(day_at_alipay, finance):
    run, _ = run_day()
    lost = day_at_alipay["lost"]
    lost_difference = run.differences.get(kind=DifferenceKind.MISSING_HERE)
    from billing.payments.services import payment_query

    with time_machine.travel(T0 + dt.timedelta(minutes=30)):
        payment_query(payment=lost)  # the channel asked: the payment is recorded

    run, _ = run_day()

    lost_difference.refresh_from_db()
    assert (lost_difference.status, lost_difference.resolution) == (
        DifferenceStatus.RESOLVED,
        Resolution.CLEARED,
    )
    assert lost_difference.resolved_by is None
    assert run.status == RunStatus.DIFFERENCES  # the other three are still open


def test_resolving_twice_refunds_once(day_at_alipay, finance):
    run, _ = run_day()
    twice = run.differences.get(kind=DifferenceKind.DUPLICATE)
    difference_resolve(
        difference=twice, resolution=Resolution.REFUNDED, actor=finance, reason="重复扣款"
    )
    with pytest.raises(DomainError) as again:  # the form sent a second time
        difference_resolve(
            difference=twice, resolution=Resolution.REFUNDED, actor=finance, reason="重复扣款"
        )
    assert again.value.code == "difference_resolved"
    assert Refund.objects.filter(payment=day_at_alipay["twice"]).count() == 1


def test_a_resolution_needs_a_reason_and_must_fit_the_kind(day_at_alipay, finance):
    run, _ = run_day()
    amount = run.differences.get(kind=DifferenceKind.AMOUNT)
    with pytest.raises(DomainError) as no_reason:
        difference_resolve(
            difference=amount, resolution=Resolution.WRITTEN_OFF, actor=finance, reason=" "
        )
    with pytest.raises(DomainError) as wrong_kind:
        difference_resolve(
            difference=amount, resolution=Resolution.SETTLED, actor=finance, reason="x"
        )
    assert (no_reason.value.code, wrong_kind.value.code) == (
        "reason_required",
        "resolution_not_allowed",
    )
    difference_resolve(
        difference=amount, resolution=Resolution.WRITTEN_OFF, actor=finance, reason="ok"
    )
    with pytest.raises(DomainError) as twice:
        difference_resolve(
            difference=amount, resolution=Resolution.TIMING, actor=finance, reason="again"
        )
    assert twice.value.code == "difference_resolved"
    assert DifferenceEvent.objects.count() == 1


def test_a_failed_download_is_recorded_and_retried_by_the_task(alipay, settings):  # noqa: F811
    alipay.bad_day = Answer(502, b"bad gateway")
    with pytest.raises(GatewayError):
        reconciliation_run(channel="alipay", day=dt.date(2026, 11, 23))
    run = ReconciliationRun.objects.get()
    assert (run.status, run.attempts) == (RunStatus.FAILED, 1) and run.error

    # The task tries again with backoff (at once here, eagerly), then gives up.
    with pytest.raises(GatewayError):
        reconcile_channel.delay("alipay", "2026-11-23").get()
    run.refresh_from_db()
    assert run.attempts == 1 + 1 + reconcile_channel.max_retries
    assert run.status == RunStatus.FAILED

    alipay.bad_day = None
    reconcile_channel.delay("alipay", "2026-11-23").get()
    run.refresh_from_db()
    assert (run.status, run.error) == (RunStatus.BALANCED, "")


def test_the_morning_task_reconciles_every_configured_channel(alipay, settings):  # noqa: F811
    settings.PAYMENT_CHANNELS = ["alipay", "sandbox"]
    with time_machine.travel(T0):
        assert reconcile_statements() == ["alipay", "sandbox"]
    runs = ReconciliationRun.objects.order_by("channel")
    assert [(r.channel, r.day, r.status) for r in runs] == [
        ("alipay", dt.date(2026, 11, 22), RunStatus.BALANCED),
        ("sandbox", dt.date(2026, 11, 22), RunStatus.BALANCED),
    ]


def test_the_command_stores_runs_of_all_channels(day_at_alipay, settings, capsys):
    settings.PAYMENT_CHANNELS = ["alipay", "sandbox"]
    with pytest.raises(SystemExit) as exit_:
        call_command(
            "payment_statement", "--all-channels", "--store", "--date", "2026-11-23", "--json"
        )
    assert exit_.value.code == 1
    reports = json.loads(capsys.readouterr().out)
    assert [(r["channel"], r["balanced"], r["run_status"]) for r in reports] == [
        ("alipay", False, RunStatus.DIFFERENCES),
        ("sandbox", True, RunStatus.BALANCED),
    ]
    alipay_report = reports[0]
    # The report's first keys keep their meaning.
    assert {line["out_trade_no"] for line in alipay_report["only_at_channel"]} == {
        day_at_alipay["lost"].out_trade_no,
        day_at_alipay["twice"].out_trade_no,
    }
    assert [item["number"] for item in alipay_report["only_here"]] == [
        day_at_alipay["refund"].out_refund_no
    ]
    assert [item["ours"] for item in alipay_report["amounts_differ"]] == ["35.00"]
    assert ReconciliationRun.objects.count() == 2
    assert day_at_alipay["refund"].status == RefundStatus.SUCCEEDED


# --- in the admin, for finance ---------------------------------------------------------------


def test_finance_sees_the_run_and_resolves_a_difference_from_its_screen(day_at_alipay, finance):
    run, _ = run_day()
    client = logged_in(finance)
    listing = client.get("/admin/billing/reconciliationrun/").content.decode()
    assert f"/admin/billing/reconciliationrun/{run.pk}/" in listing
    filtered = client.get(
        "/admin/billing/reconciliationrun/?channel=alipay&status__exact=differences"
    )
    assert f"/admin/billing/reconciliationrun/{run.pk}/" in filtered.content.decode()
    assert (
        client.get("/admin/billing/reconciliationdifference/?status__exact=open").status_code == 200
    )
    page = client.get(f"/admin/billing/reconciliationrun/{run.pk}/change/").content.decode()
    lost = run.differences.get(kind=DifferenceKind.MISSING_HERE)
    resolve_url = f"/admin/billing/reconciliationdifference/{lost.pk}/resolve/"
    assert resolve_url in page and lost.out_trade_no in page
    assert f"/admin/billing/bill/{lost.payment.bill_id}/change/" in page

    form = client.get(resolve_url).content.decode()
    # Only what fits the kind is offered: settle, refund, link, timing, write off.
    assert 'value="settled"' in form and 'value="cleared"' not in form
    refused = client.post(resolve_url, {"resolution": "settled", "reason": ""})
    assert refused.status_code == 200 and DifferenceEvent.objects.count() == 0

    done = client.post(resolve_url, {"resolution": "settled", "reason": "通知丢失"})

    assert done.status_code == 302
    lost.refresh_from_db()
    assert (lost.status, lost.resolution, lost.resolved_by) == (
        DifferenceStatus.RESOLVED,
        Resolution.SETTLED,
        finance,
    )
    assert lost.payment.bill.status == BillStatus.PAID
    assert client.post(resolve_url, {"resolution": "timing", "reason": "x"}).status_code == 302
    assert DifferenceEvent.objects.count() == 1  # resolved once


def test_only_finance_works_reconciliation(day_at_alipay, window_clerk):
    run, _ = run_day()
    difference = run.differences.first()
    clerk = logged_in(window_clerk)
    assert clerk.get("/admin/billing/reconciliationrun/").status_code == 403
    resolve_url = f"/admin/billing/reconciliationdifference/{difference.pk}/resolve/"
    assert clerk.post(resolve_url, {"resolution": "timing", "reason": "x"}).status_code == 403
    difference.refresh_from_db()
    assert difference.status == DifferenceStatus.OPEN


# --- the window's till -------------------------------------------------------------------------


def test_a_till_that_matches_balances_and_one_that_does_not_goes_to_finance(
    his, card, window_clerk, finance
):
    from billing.models import TillCount, WindowMethod
    from billing.payments.reconciliation import till_close
    from billing.payments.services import payment_take_at_window

    with time_machine.travel(T0):
        cash = new_link(his, card, 1).bill
        scanned = new_link(his, card, 2).bill
        payment_take_at_window(
            bill=cash, amount=Decimal("35.00"), method=WindowMethod.CASH, actor=window_clerk
        )
        payment_take_at_window(
            bill=scanned,
            amount=Decimal("35.00"),
            method=WindowMethod.SCAN,
            actor=window_clerk,
            reference="T-1",
        )
        day = timezone.localdate()

        run = till_close(
            cashier=window_clerk,
            day=day,
            counts={WindowMethod.CASH: Decimal("35.00"), WindowMethod.SCAN: Decimal("35.00")},
        )
        assert run.status == RunStatus.BALANCED and not run.differences.exists()

        short = till_close(
            cashier=window_clerk,
            day=day,
            counts={WindowMethod.CASH: Decimal("30.00"), WindowMethod.SCAN: Decimal("35.00")},
        )
    assert short.pk == run.pk and short.status == RunStatus.DIFFERENCES
    (difference,) = short.differences.all()
    assert (difference.kind, difference.channel_amount, difference.our_amount) == (
        DifferenceKind.COUNT,
        Decimal("30.00"),
        Decimal("35.00"),
    )
    counts = {c.method: (c.counted, c.recorded) for c in TillCount.objects.filter(run=run)}
    assert counts == {
        WindowMethod.CASH: (Decimal("30.00"), Decimal("35.00")),
        WindowMethod.CARD: (Decimal("0.00"), Decimal("0.00")),
        WindowMethod.SCAN: (Decimal("35.00"), Decimal("35.00")),
    }
    difference_resolve(
        difference=difference,
        resolution=Resolution.WRITTEN_OFF,
        actor=finance,
        reason="收银短款5元，由收银员赔付",
    )
    short.refresh_from_db()
    assert short.status == RunStatus.CLOSED
    page = logged_in(finance).get(f"/admin/billing/reconciliationrun/{run.pk}/change/")
    assert "30.00" in page.content.decode() and window_clerk.username in page.content.decode()


def test_the_window_clerk_closes_the_till_from_the_admin(window_clerk):
    client = logged_in(window_clerk)
    assert "close-till" in client.get("/admin/").content.decode()
    url = "/admin/billing/payment/close-till/"
    assert client.get(url).status_code == 200
    answer = client.post(
        url,
        {"day": timezone.localdate().isoformat(), "cash": "12.50", "card": "0", "scan": "0"},
        follow=True,
    )
    assert answer.status_code == 200
    run = ReconciliationRun.objects.get()
    assert (run.channel, run.cashier, run.status) == ("window", window_clerk, RunStatus.DIFFERENCES)
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    refused = client.post(url, {"day": tomorrow, "cash": "0", "card": "0", "scan": "0"})
    assert refused.status_code == 200 and ReconciliationRun.objects.count() == 1
    bad = client.post(url, {"day": "2026-13-40", "cash": "-1", "card": "x", "scan": ""})
    assert bad.status_code == 200 and ReconciliationRun.objects.count() == 1
    long_ago = client.post(url, {"day": "0001-01-01", "cash": "0", "card": "0", "scan": "0"})
    assert long_ago.status_code == 200 and "errorlist" in long_ago.content.decode()
    assert ReconciliationRun.objects.count() == 1


def test_finance_cannot_close_a_till(finance):
    assert logged_in(finance).get("/admin/billing/payment/close-till/").status_code == 403
