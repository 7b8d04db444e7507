"""The collections desk in the admin, as collection staff, finance and window staff use it:
the queue and its filters, the case page and its actions, the overview."""

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from accounts import roles, services
from billing.collections import cases
from billing.collections.sweep import overdue_sweep
from billing.models import (
    Bill,
    BillStatus,
    CaseEvent,
    CaseEventKind,
    CaseStatus,
    CollectionCase,
    Instalment,
    PaymentPlan,
    PromiseToPay,
)
from billing.payments.links import payment_link_url
from notifications.models import SmsMessage
from tests.billing.test_overdue import CHINA, bill_closed_at, pay
from tests.conftest import logged_in
from tests.factories import PatientFactory, StaffFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 4, 22, 10, 0, tzinfo=CHINA)  # a Wednesday
TODAY = NOW.date()
QUEUE = reverse("admin:billing_collectioncase_changelist")
OVERVIEW = reverse("admin:billing_collectioncase_overview")


@pytest.fixture(autouse=True)
def clock():
    """The desk is used on NOW; data from the past is made by travelling back."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def owing(his, hospital, clerk, name, days, amount, visit_id, patient=None):
    """A patient (signed at the window) with one outpatient bill ``days`` overdue on NOW."""
    if patient is None:
        patient = PatientFactory(name=name)
        services.agreement_sign(patient=patient, institution=hospital, actor=clerk)
    due = NOW - dt.timedelta(days=days)
    bill = bill_closed_at(
        his, patient.citizen_card, due - dt.timedelta(hours=48), visit_id=visit_id, amount=amount
    )
    return patient, bill


class Desk:
    """The people and their bills: cases open for those 7 days or more overdue."""

    def __init__(self, his, outsider_his, hospital, window_clerk, signed_patient):
        self.ann, self.ann_bill = owing(
            his, hospital, window_clerk, "", 10, "35.00", "VA", patient=signed_patient.patient
        )
        self.bob, self.bob_bill = owing(his, hospital, window_clerk, "Bob", 45, "250.00", "VB")
        self.cat, self.cat_bill = owing(
            outsider_his, hospital, window_clerk, "Cat", 100, "20.00", "VC"
        )
        self.dan, self.dan_bill = owing(his, hospital, window_clerk, "Dan", 3, "50.00", "VD")
        overdue_sweep()
        self.cases = {
            case.patient_id: case for case in CollectionCase.objects.select_related("patient")
        }

    def case(self, patient) -> CollectionCase:
        case = self.cases[patient.pk]
        case.refresh_from_db()
        return case


@pytest.fixture
def desk(his, outsider_his, hospital, window_clerk, signed_patient) -> Desk:
    return Desk(his, outsider_his, hospital, window_clerk, signed_patient)


@pytest.fixture
def collector_client(collector):
    return logged_in(collector)


@pytest.fixture
def finance_client(finance_officer):
    return logged_in(finance_officer)


def case_url(case) -> str:
    return reverse("admin:billing_collectioncase_change", args=[case.pk])


def act_url(case, action) -> str:
    return reverse("admin:billing_collectioncase_act", args=[case.pk, action])


def queue_names(client, query: str = "") -> list[str]:
    """The patients of the queue's rows, in order."""
    response = client.get(f"{QUEUE}{query}")
    assert response.status_code == 200
    page = response.content.decode()
    return re.findall(r'<th class="field-patient_name"><a href="[^"]+">([^<]+)</a>', page)


# --- the queue ---------------------------------------------------------------------------------


def test_the_queue_lists_open_cases_highest_priority_first(desk, collector_client):
    ann, bob, cat = desk.case(desk.ann), desk.case(desk.bob), desk.case(desk.cat)
    assert cat.priority > bob.priority > ann.priority  # older and larger first

    assert queue_names(collector_client) == ["Cat", "Bob", desk.ann.name]  # Dan: 3 days only

    page = collector_client.get(QUEUE).content.decode()
    assert desk.ann.masked_phone in page and "&gt;90" in page and "31-60" in page
    assert "250.00" in page and "2026-03-08" in page and "45 <small>(31-60)</small>" in page


def test_a_broken_promise_puts_the_case_on_top_of_the_queue(desk, collector):
    cases.case_promise(
        case=desk.case(desk.ann), actor=collector, promised_date=TODAY, amount=Decimal("10")
    )
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        overdue_sweep()
        collector_client = logged_in(collector)  # the next working day
        assert queue_names(collector_client) == [desk.ann.name, "Cat", "Bob"]
        assert "Promise broken" in collector_client.get(QUEUE).content.decode()


def test_closed_cases_leave_the_queue_and_stay_findable(desk, collector_client):
    pay(desk.bob_bill)
    assert desk.case(desk.bob).status == CaseStatus.CLOSED
    assert queue_names(collector_client) == ["Cat", desk.ann.name]
    assert queue_names(collector_client, "?status=closed") == ["Bob"]
    assert len(queue_names(collector_client, "?status=all")) == 3


@pytest.mark.parametrize(
    ("bucket", "names"),
    [("1-7", []), ("8-30", ["ann"]), ("31-60", ["Bob"]), ("61-90", []), (">90", ["Cat"])],
)
def test_the_bucket_filter(desk, collector_client, bucket, names):
    names = [desk.ann.name if name == "ann" else name for name in names]
    assert queue_names(collector_client, f"?bucket={bucket.replace('>', '%3E')}") == names


def test_buckets_turn_at_midnight_china_time(desk, collector):
    # Ann's bill was due 2026-04-12 10:00: 30 days overdue all of 05-12, 31 from 05-13 00:00.
    with time_machine.travel(dt.datetime(2026, 5, 12, 23, 59, tzinfo=CHINA), tick=False):
        collector_client = logged_in(collector)
        assert desk.ann.name in queue_names(collector_client, "?bucket=8-30")
        assert desk.ann.name not in queue_names(collector_client, "?bucket=31-60")
    with time_machine.travel(dt.datetime(2026, 5, 13, 0, 0, tzinfo=CHINA), tick=False):
        assert desk.ann.name not in queue_names(collector_client, "?bucket=8-30")
        assert desk.ann.name in queue_names(collector_client, "?bucket=31-60")


def test_the_institution_filter(desk, collector_client, hospital, outsider_his):
    assert queue_names(collector_client, f"?institution={outsider_his.institution.pk}") == ["Cat"]
    assert queue_names(collector_client, f"?institution={hospital.pk}") == ["Bob", desk.ann.name]


def test_the_agent_filter(desk, collector, collector_client, hospital):
    other = StaffFactory(username="other", institution=hospital, role=roles.COLLECTION_STAFF)
    collector_client.post(act_url(desk.case(desk.ann), "take"))
    cases.case_assign(case=desk.case(desk.cat), agent=other, actor=other)

    assert queue_names(collector_client, "?agent=mine") == [desk.ann.name]
    assert queue_names(collector_client, "?agent=none") == ["Bob"]
    assert queue_names(collector_client, f"?agent={other.pk}") == ["Cat"]
    page = collector_client.get(QUEUE).content.decode()
    assert '<td class="field-agent">collector</td>' in page


def test_the_promise_filters(desk, collector):
    cases.case_promise(
        case=desk.case(desk.ann), actor=collector, promised_date=TODAY, amount=Decimal("10")
    )
    tomorrow = NOW + dt.timedelta(days=1)
    with time_machine.travel(tomorrow, tick=False):
        overdue_sweep()  # Ann's promise: broken
        cases.case_promise(
            case=desk.case(desk.bob),
            actor=collector,
            promised_date=tomorrow.date(),
            amount=Decimal("100"),
        )
        collector_client = logged_in(collector)
        assert queue_names(collector_client, "?promise=due_today") == ["Bob"]
        assert queue_names(collector_client, "?promise=broken") == [desk.ann.name]
        page = collector_client.get(QUEUE).content.decode()
        assert "2026-04-23 · 100.00" in page  # Bob's next promise


def test_disputed_and_escalated_filters(desk, collector_client):
    collector_client.post(act_url(desk.case(desk.bob), "dispute"), {"dispute-note": "not mine"})
    collector_client.post(act_url(desk.case(desk.cat), "escalate"), {"escalate-note": "lawyer"})
    assert queue_names(collector_client, "?disputed__exact=1") == ["Bob"]
    assert queue_names(collector_client, "?escalated__exact=1") == ["Cat"]


def test_search_by_name_and_phone(desk, collector_client):
    assert queue_names(collector_client, "?q=Bob") == ["Bob"]
    national = str(desk.cat.phone).removeprefix("+86")
    assert queue_names(collector_client, f"?q={national}") == ["Cat"]


def test_the_queue_pages_by_fifty(his, hospital, window_clerk, collector_client):
    for n in range(52):
        owing(his, hospital, window_clerk, f"P{n:02d}", 10, "30.00", f"V{n}")
    overdue_sweep()
    assert len(queue_names(collector_client)) == 50
    assert len(queue_names(collector_client, "?p=2")) == 2


# --- the case page -------------------------------------------------------------------------------


def test_the_case_page_shows_bills_links_and_history(desk, collector, collector_client):
    case = desk.case(desk.bob)
    cases.case_log_contact(case=case, actor=collector, channel="call", outcome="no answer")
    page = collector_client.get(case_url(case)).content.decode()

    # The agent calls from this page: the phone in full (identity numbers stay hidden).
    assert "Bob" in page and f'href="tel:{desk.bob.phone}"' in page
    bill_row = page[page.index(f'data-bill="{desk.bob_bill.pk}"') :]
    assert "250.00" in bill_row[:800] and "2026-03-08 10:00" in bill_row[:800]
    assert payment_link_url(desk.bob_bill.payment_link) in bill_row[:1200]
    assert ">45<" in bill_row[:800]  # days overdue
    history = page[page.index('id="case-history"') :]
    assert history.index('data-kind="contact"') < history.index('data-kind="opened"')  # newest
    assert "no answer" in history and "collector" in history


def test_an_expired_link_is_marked(desk, collector_client):
    # Cat's bill is 100 days overdue: its link expired 90 days after the due time.
    page = collector_client.get(case_url(desk.case(desk.cat))).content.decode()
    row = page[page.index(f'data-bill="{desk.cat_bill.pk}"') :][:1200]
    assert payment_link_url(desk.cat_bill.payment_link) in row and "Expired" in row
    page = collector_client.get(case_url(desk.case(desk.bob))).content.decode()
    assert "Expired" not in page


def test_no_identity_number_and_full_phones_only_where_an_agent_calls(
    desk, collector_client, finance_client
):
    case_pages = [case_url(case) for case in desk.cases.values()]
    for client in (collector_client, finance_client):
        for url in [QUEUE, OVERVIEW, *case_pages]:
            page = client.get(url).content.decode()
            for patient in (desk.ann, desk.bob, desk.cat):
                national = str(patient.phone).removeprefix("+86")
                assert patient.id_number not in page
                assert patient.masked_id_number not in page  # not needed to collect
                if client is finance_client or url not in case_pages:
                    assert national not in page and str(patient.phone) not in page


def test_window_staff_cannot_see_the_collections_desk(desk, clerk_client):
    case = desk.case(desk.bob)
    for url in (QUEUE, OVERVIEW, case_url(case)):
        assert clerk_client.get(url).status_code == 403
    assert clerk_client.post(act_url(case, "take")).status_code == 403
    assert desk.case(desk.bob).assigned_to is None


def events(case, kind) -> list[CaseEvent]:
    return list(CaseEvent.objects.filter(case=case, kind=kind))


@pytest.mark.parametrize(
    ("action", "data", "kind"),
    [
        ("take", {}, CaseEventKind.ASSIGNED),
        ("contact", {"channel": "visit", "outcome": "will pay Friday"}, CaseEventKind.CONTACT),
        ("resend", {}, CaseEventKind.LINK_RESENT),
        ("promise", {"promised_date": "2026-04-25", "amount": "100"}, CaseEventKind.PROMISE),
        ("escalate", {"note": "refuses to talk"}, CaseEventKind.ESCALATED),
        ("dispute", {"note": "says the bill is wrong"}, CaseEventKind.DISPUTED),
    ],
)
def test_each_action_changes_the_case_and_writes_its_event(
    desk, collector, collector_client, action, data, kind
):
    case = desk.case(desk.bob)
    response = collector_client.post(
        act_url(case, action), {f"{action}-{key}": value for key, value in data.items()}
    )
    assert response.status_code == 302 and response["Location"] == case_url(case)
    [event] = events(case, kind)
    assert event.actor == collector
    case.refresh_from_db()
    if action == "take":
        assert case.assigned_to == collector
    elif action == "contact":
        assert (event.channel, event.outcome) == ("visit", "will pay Friday")
    elif action == "resend":
        sms = SmsMessage.objects.get(dedup_key__startswith="case-link:")
        assert payment_link_url(desk.bob_bill.payment_link) in sms.body
    elif action == "promise":
        promise = PromiseToPay.objects.get(case=case)
        assert (promise.promised_date, promise.amount) == (dt.date(2026, 4, 25), Decimal("100"))
    elif action == "escalate":
        assert case.escalated and event.note == "refuses to talk"
    elif action == "dispute":
        assert case.disputed
    page = collector_client.get(case_url(case)).content.decode()
    assert '<li class="success">' in page  # what was done, said once after the redirect


def test_assign_to_an_agent_and_unassign(desk, collector, collector_client, hospital):
    other = StaffFactory(username="other", institution=hospital, role=roles.COLLECTION_STAFF)
    case = desk.case(desk.bob)
    collector_client.post(act_url(case, "assign"), {"assign-agent": other.pk})
    assert desk.case(desk.bob).assigned_to == other
    collector_client.post(act_url(case, "assign"), {"assign-agent": ""})
    assert desk.case(desk.bob).assigned_to is None
    assert [e.note for e in events(case, CaseEventKind.ASSIGNED)] == ["", "other"]  # newest first
    assert all(e.actor == collector for e in events(case, CaseEventKind.ASSIGNED))


def test_only_collection_staff_can_be_assigned(desk, collector_client, finance_officer):
    case = desk.case(desk.bob)
    response = collector_client.post(act_url(case, "assign"), {"assign-agent": finance_officer.pk})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert desk.case(desk.bob).assigned_to is None


def test_resolving_a_dispute(desk, collector, collector_client):
    case = desk.case(desk.bob)
    cases.case_dispute(case=case, actor=collector, disputed=True, note="wrong amount")
    page = collector_client.get(case_url(case)).content.decode()
    assert "Resolve the dispute" in page and 'id="action-dispute"' not in page
    collector_client.post(act_url(case, "resolve"), {"resolve-note": "hospital confirmed"})
    assert not desk.case(desk.bob).disputed
    [event] = events(case, CaseEventKind.DISPUTE_RESOLVED)
    assert (event.actor, event.note) == (collector, "hospital confirmed")


def test_a_payment_plan_from_the_case_page(desk, collector, collector_client):
    case = desk.case(desk.bob)
    data = {
        "plan-bill": desk.bob_bill.pk,
        "plan-date_1": "2026-04-22",
        "plan-amount_1": "100.00",
        "plan-date_2": "2026-05-22",
        "plan-amount_2": "150.00",
        "plan-note": "salary on the 20th",
    }
    response = collector_client.post(act_url(case, "plan"), data)
    assert response.status_code == 302
    plan = PaymentPlan.objects.get(bill=desk.bob_bill)
    assert plan.created_by == collector and plan.case == case
    instalments = list(plan.instalments.order_by("number"))
    assert [(i.amount, i.due_at.astimezone(CHINA).date()) for i in instalments] == [
        (Decimal("100.00"), dt.date(2026, 4, 22)),
        (Decimal("150.00"), dt.date(2026, 5, 22)),
    ]
    [event] = events(case, CaseEventKind.PLAN)
    assert event.actor == collector

    page = collector_client.get(case_url(case)).content.decode()
    assert 'id="action-plan"' not in page  # its only overdue bill has a plan now
    for instalment in instalments:
        row = page[page.index(f'data-instalment="{instalment.pk}"') :][:900]
        assert str(instalment.amount) in row and "Unpaid" in row
        assert payment_link_url(instalment.payment_link) in row


def test_a_paid_instalment_shows_as_paid(desk, collector, collector_client):
    case = desk.case(desk.bob)
    plan = cases.case_plan(
        case=case,
        actor=collector,
        bill=desk.bob_bill,
        instalments=[(TODAY, Decimal("50")), (TODAY + dt.timedelta(days=7), Decimal("200"))],
    )
    first = plan.instalments.get(number=1)
    Instalment.objects.filter(pk=first.pk).update(paid_at=NOW)  # as the payment would
    page = collector_client.get(case_url(case)).content.decode()
    row = page[page.index(f'data-instalment="{first.pk}"') :][:900]
    assert "Paid 2026-04-22" in row


@pytest.mark.parametrize(
    ("action", "data", "error"),
    [
        ("contact", {"channel": "call", "outcome": ""}, "This field is required"),
        ("contact", {"channel": "fax", "outcome": "x"}, "Select a valid choice"),
        ("promise", {"promised_date": "", "amount": "10"}, "This field is required"),
        ("promise", {"promised_date": "2026-04-30", "amount": "-5"}, "greater than or equal"),
        ("promise", {"promised_date": "2026-04-30", "amount": "900"}, "at most what is overdue"),
        ("promise", {"promised_date": "2026-04-01", "amount": "10"}, "today or later"),
        ("escalate", {"note": ""}, "This field is required"),
        ("plan", {"date_1": "2026-04-30", "amount_1": "250"}, "at least two instalments"),
        (
            "plan",
            {"date_1": "2026-04-30", "amount_1": "100", "date_2": "2026-05-30", "amount_2": "100"},
            "add up to 250.00",
        ),
        (
            "plan",
            {"date_1": "2026-04-30", "amount_1": "100", "amount_2": "150"},
            "Give the date of this instalment",
        ),
    ],
)
def test_bad_input_shows_an_error_and_changes_nothing(desk, collector_client, action, data, error):
    case = desk.case(desk.bob)
    if action == "plan":
        data = {"bill": desk.bob_bill.pk, **data}
    before = CaseEvent.objects.count()
    response = collector_client.post(
        act_url(case, action), {f"{action}-{key}": value for key, value in data.items()}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert error in page
    assert 'class="messagelist"' in page  # the admin message says what went wrong
    assert CaseEvent.objects.count() == before
    assert not PromiseToPay.objects.exists() and not PaymentPlan.objects.exists()
    assert desk.case(desk.bob).escalated is False


def test_an_action_on_a_closed_case_is_refused_with_a_message(desk, collector_client):
    case = desk.case(desk.bob)
    pay(desk.bob_bill)
    response = collector_client.post(
        act_url(case, "contact"), {"contact-channel": "call", "contact-outcome": "x"}
    )
    assert response.status_code == 200
    assert "This case is closed." in response.content.decode()
    assert not events(case, CaseEventKind.CONTACT)


# --- write-offs: finance only --------------------------------------------------------------------


def test_collection_staff_cannot_write_off(desk, collector_client):
    case = desk.case(desk.bob)
    assert 'id="action-write_off"' not in collector_client.get(case_url(case)).content.decode()
    response = collector_client.post(
        act_url(case, "write_off"), {"write_off-bill": desk.bob_bill.pk, "write_off-reason": "x"}
    )
    assert response.status_code == 403
    desk.bob_bill.refresh_from_db()
    assert desk.bob_bill.status == BillStatus.OVERDUE
    assert not events(case, CaseEventKind.WRITTEN_OFF)


def test_finance_writes_off_a_bill_from_the_case_page(desk, finance_officer, finance_client):
    case = desk.case(desk.bob)
    page = finance_client.get(case_url(case)).content.decode()
    assert 'id="action-write_off"' in page and 'id="action-contact"' not in page
    response = finance_client.post(
        act_url(case, "write_off"),
        {"write_off-bill": desk.bob_bill.pk, "write_off-reason": "patient deceased"},
    )
    assert response.status_code == 302
    desk.bob_bill.refresh_from_db()
    assert desk.bob_bill.status == BillStatus.WRITTEN_OFF
    assert desk.bob_bill.written_off_amount == Decimal("250.00")
    [event] = events(case, CaseEventKind.WRITTEN_OFF)
    assert (event.actor, event.amount, event.note) == (
        finance_officer,
        Decimal("250.00"),
        "patient deceased",
    )
    assert desk.case(desk.bob).status == CaseStatus.CLOSED  # nothing overdue left


def test_a_write_off_needs_a_reason(desk, finance_client):
    case = desk.case(desk.bob)
    response = finance_client.post(
        act_url(case, "write_off"), {"write_off-bill": desk.bob_bill.pk, "write_off-reason": ""}
    )
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert Bill.objects.get(pk=desk.bob_bill.pk).status == BillStatus.OVERDUE


def test_finance_cannot_work_cases(desk, finance_client):
    case = desk.case(desk.bob)
    response = finance_client.post(
        act_url(case, "contact"), {"contact-channel": "call", "contact-outcome": "x"}
    )
    assert response.status_code == 403
    assert not events(case, CaseEventKind.CONTACT)


# --- the overview -------------------------------------------------------------------------------


def figure(page: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}">([^<]+)<', page).group(1)


def test_the_overview_by_bucket_and_agent(desk, collector, collector_client):
    cases.case_assign(case=desk.case(desk.ann), agent=collector, actor=collector)
    page = collector_client.get(OVERVIEW).content.decode()

    rows = re.findall(
        r'<tr data-bucket="([^"]+)"><td>[^<]+</td><td class="num">(\d+)</td>'
        r'<td class="num">([\d.]+)</td>',
        page,
    )
    assert rows == [
        ("1-7", "1", "50.00"),  # Dan, 3 days: overdue, no case yet
        ("8-30", "1", "35.00"),
        ("31-60", "1", "250.00"),
        ("61-90", "0", "0.00"),
        ("&gt;90", "1", "20.00"),
    ]
    assert figure(page, "overdue-amount") == "355.00"
    assert figure(page, "overdue-bills") == "4"
    assert figure(page, "open-cases") == "3"
    agents = re.findall(
        r'<tr data-agent="([^"]+)"><td>[^<]+</td><td class="num">(\d+)</td>'
        r'<td class="num">([\d.]+)</td>',
        page,
    )
    assert agents == [("collector", "1", "35.00"), ("-", "2", "270.00")]
    content = page.split('id="content-main"')[1]
    assert content.count("<canvas data-chart=") == 4  # drawn by Chart.js, as the reports
    amounts = json.loads(re.search(r'id="chart-amounts"[^>]*>([^<]+)<', page).group(1))
    assert amounts["labels"][:2] == ["1-7", "8-30"] and amounts["horizontal"]
    assert amounts["links"][0] == f"{QUEUE}?bucket=1-7"  # a bar opens the queue filtered
    assert (
        reverse("admin:billing_collectioncase_overview")
        in collector_client.get(QUEUE).content.decode()
    )  # linked from the queue


def test_recovered_this_week_and_this_month(his, hospital, window_clerk, finance_client):
    def paid(name, visit_id, due, paid_at, amount):
        _patient, bill = owing(
            his, hospital, window_clerk, name, (NOW - due).days, amount, visit_id
        )
        with time_machine.travel(paid_at, tick=False):
            pay(bill)

    at = lambda *a: dt.datetime(*a, tzinfo=CHINA)  # noqa: E731
    paid("Eve", "VE", at(2026, 4, 12, 10), at(2026, 4, 20, 0, 30), "60.00")  # Monday: this week
    paid("Fay", "VF", at(2026, 4, 2, 10), at(2026, 4, 19, 23, 30), "70.00")  # Sunday: month
    paid("Gus", "VG", at(2026, 3, 22, 10), at(2026, 3, 31, 23, 30), "80.00")  # last month
    paid("Hal", "VH", at(2026, 4, 20, 10), at(2026, 4, 20, 9), "90.00")  # paid before due

    page = finance_client.get(OVERVIEW).content.decode()
    assert figure(page, "recovered-week") == "60.00"
    assert figure(page, "recovered-month") == "130.00"
    assert "since Monday 2026-04-20" in page
