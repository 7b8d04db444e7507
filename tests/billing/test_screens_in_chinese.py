"""Every staff screen and patient page reads as Chinese (issue 13): each admin list and change
page, as each role, and every patient page, rendered in zh-hans, shows no run of ASCII
letters outside data, codes and a short allow-list."""

import io
import re
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse

from accounts.models import User
from accounts.roles import ROLE_PERMISSIONS
from billing.models import CollectionCase, PaymentLink
from billing.payments.refunds import refund_request
from tests.billing.paying import sent_code, start
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create, event_emit

pytestmark = pytest.mark.django_db

ROLES = ["window", "collector", "finance", "creditofficer", "manager", "integration", "admin"]

# Words that stay as they are in Chinese text: names of things, units, codes.
ALLOWED = {
    "CreditCare",  # the product
    "HIS",
    "API",
    "Key",  # "API Key", as integrators say it
    "ID",
    "SMS",
    "CNY",
    "Django",
    "PDF",
    "QR",
    "TOTP",
    "Celery",
    "Twilio",
    "crontab",
    "JSON",
    "CSV",  # the file format, as everyone names it
    "URL",
    "UTC",
    "HMAC",
    "Control",  # keys, in Django's own help for multiple choice ("Command" on a "Mac")
    "Command",
    "Mac",
    "devices",  # django-otp's "TOTP devices", a name it does not mark for translation
    "Search",  # the alt text of the admin's search icon, which Django does not translate
    "IP",
    "True",  # the alt text of Django's boolean icons (a tick or a cross is what is seen)
    "False",
}

# What a page shows that is data, not words: the demo's and the fixtures' own values.
DATA = {
    "sandbox",
    "window",
    "collector",
    "finance",
    "creditofficer",
    "manager",
    "integration",
    "admin",
    "alipay",
    "wechat",
    "clerk",  # the fixtures' staff
    # The roles are groups named in code (accounts.roles), shown to administrators only.
    *{word for role in ROLE_PERMISSIONS for word in role.split()},
}

# The administrator's pages of installed apps (Django's users and groups, the beat's
# schedule, django-axes' logs) show their own words and data (permission names, time zones).
INSTALLED_APPS_PAGES = (
    "/admin/auth/",
    "/admin/django_celery_beat/",
    "/admin/axes/",
    "/admin/otp_totp/",
)

WORD = re.compile(r"(?<![A-Za-z0-9_.@/-])[A-Za-z]{2,}(?![A-Za-z0-9_@/-])")
URL = re.compile(r"https?://\S+")


class VisibleText(HTMLParser):
    """The text a person reads: text nodes (not scripts or styles) and the attributes a
    screen shows (placeholders, titles, labels of buttons)."""

    SHOWN = {"placeholder", "title", "aria-label", "alt"}
    BUTTONS = {"submit", "button", "reset"}
    HIDDEN = {"script", "style", "template", "bdi"}  # <bdi>: a value (a password's hash)
    PERMISSIONS = {"user_permissions", "permissions"}  # Django's names of permissions: data

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in self.HIDDEN or (tag == "select" and attributes.get("name") in self.PERMISSIONS):
            self._hidden += 1
        for name in self.SHOWN & attributes.keys():
            self.parts.append(attributes[name] or "")
        if tag == "input" and attributes.get("type") in self.BUTTONS:
            self.parts.append(attributes.get("value") or "")

    def handle_endtag(self, tag):
        if tag in self.HIDDEN or (tag == "select" and self._hidden):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def english_words(html: str) -> set[str]:
    parser = VisibleText()
    parser.feed(html)
    words = set(WORD.findall(URL.sub(" ", " ".join(parser.parts))))
    return {w for w in words if w not in ALLOWED and w not in DATA}


def chinese_client(user: User | None = None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def site_in_chinese(settings):
    """Records written as the tests' data is made (reasons, notes) in the site's language."""
    settings.LANGUAGE_CODE = "zh-hans"


@pytest.fixture
def everything(site_in_chinese, his, link, paid, finance_officer):
    """The demo's data, a paid bill with a refund done and one at the window, so every list
    has a row and every change page something to show."""
    call_command("seed_demo", stdout=io.StringIO())
    bill = paid.bill
    refund_request(payment=paid, amount=paid.amount / 2, reason="演示退款", actor="finance")
    case = CollectionCase.objects.first()
    assert bill and case
    # An endpoint of the integration staff's institution, with an event on its way.
    institution = User.objects.get(username="integration").institution
    endpoint_create(institution=institution, url="https://his.example/cc", events=["bill.paid"])
    event_emit(type="bill.paid", institution_id=institution.pk, data={"bill": {"id": 1}})
    assert WebhookDelivery.objects.exists()
    return paid


def admin_pages(user: User):
    """(url, model) of each admin list, and the change page of one row of each."""
    for model in apps.get_models():
        if not admin.site.is_registered(model):
            continue
        meta = model._meta
        try:
            changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        except NoReverseMatch:
            continue
        yield changelist
        row = model._default_manager.order_by("pk").first()
        if row is not None:
            yield reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[row.pk])


@pytest.mark.parametrize("username", ROLES)
def test_every_admin_page_reads_as_chinese(everything, username):
    user = User.objects.get(username=username)
    client = chinese_client(user)
    found: dict[str, set[str]] = {}
    seen = 0
    for url in [reverse("admin:index"), reverse("admin:billing_reports"), *admin_pages(user)]:
        if url.startswith(INSTALLED_APPS_PAGES):
            continue
        answer = client.get(url, follow=True)
        if answer.status_code == 403:
            continue  # not this role's page
        assert answer.status_code == 200, url
        seen += 1
        words = english_words(answer.content.decode())
        if words:
            found[url] = words
    assert seen > (1 if username == "manager" else 5)  # management: home and reports
    assert found == {}, "\n".join(f"{url}: {sorted(words)}" for url, words in found.items())


def test_every_patient_page_reads_as_chinese(everything, link):
    """The paid bill's pages (link, bill, receipt), the demo's unpaid bill up to the sandbox's
    checkout, its interim bill of a long stay, /me/ before and after its code, and a page
    that is not there."""
    client = chinese_client()
    unpaid = PaymentLink.objects.get(bill__visit__his_visit_id="DEMO-OVERDUE-1")
    stay = PaymentLink.objects.get(bill__interim=True)  # the demo's long stay, billed part-way

    def reads_as_chinese(url: str) -> None:
        answer = client.get(url, follow=True)
        assert answer.status_code == 200, url
        assert english_words(answer.content.decode()) == set(), url

    for url in (f"/p/{link.token}", f"/p/{unpaid.token}", f"/p/{stay.token}", "/me/"):
        reads_as_chinese(url)
    for paying in (link, unpaid, stay):
        client.post(f"/p/{paying.token}/code/")
        client.post(f"/p/{paying.token}/verify/", {"code": sent_code()})
    for url in (
        f"/p/{link.token}/bill/",
        f"/p/{link.token}/receipt/",
        f"/p/{unpaid.token}",
        f"/p/{stay.token}/bill/",
    ):
        reads_as_chinese(url)
    payment = start(client, unpaid)
    reads_as_chinese(f"/pay/sandbox/{payment.out_trade_no}/")

    client.post("/me/code/", {"phone": str(link.bill.patient.phone.national_number)})
    client.post("/me/verify/", {"code": sent_code()})
    reads_as_chinese("/me/")
    missing = client.get("/p/nothing-here")
    assert missing.status_code == 404
    assert english_words(missing.content.decode()) == set()

    # Signing up online: the phone and the details (the agreement is the printed text).
    newcomer = chinese_client()
    reads = newcomer.post("/signup/code/", {"phone": "13912340000"})
    assert english_words(reads.content.decode()) == set()
    newcomer.post("/signup/verify/", {"phone": "13912340000", "code": sent_code()})
    answer = newcomer.get("/signup/details/")
    assert answer.status_code == 200 and english_words(answer.content.decode()) == set()
