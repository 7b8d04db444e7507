"""The patient's pages behind the SMS link (``/p/<token>``): mobile first, no JavaScript.

1. The link page: institution, date, amount due, a button that sends a code to the
   agreement's phone (shown masked), and the field for the code.
2. With the right code, the settlement page (结算清单) for the rest of the session.
"""

import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from billing.models import BillStatus, PaymentLink
from creditcare.errors import DomainError
from notifications.codes import code_check, code_send


def _link(token: str) -> PaymentLink | None:
    return (
        PaymentLink.objects.select_related("bill__visit", "bill__institution", "bill__patient")
        .filter(token=token)
        .first()
    )


def _session_key(link: PaymentLink) -> str:
    return f"paylink:{link.pk}"


def _verified(request: HttpRequest, link: PaymentLink) -> bool:
    return request.session.get(_session_key(link), 0) > time.time()


def _unusable(request: HttpRequest, link: PaymentLink | None) -> HttpResponse | None:
    """The page to show instead when the link cannot be used (unknown, expired, paid)."""
    if link is None:
        return render(request, "pay/gone.html", {"reason": "unknown"}, status=404)
    if link.bill.status == BillStatus.PAID:
        return render(request, "pay/gone.html", {"reason": "paid", "bill": link.bill})
    if link.expires_at <= timezone.now():
        return render(request, "pay/gone.html", {"reason": "expired"}, status=410)
    return None


def _purpose(link: PaymentLink) -> str:
    return f"pay:{link.pk}"


def link_page(request: HttpRequest, token: str, error: str = "") -> HttpResponse:
    link = _link(token)
    refusal = _unusable(request, link)
    if refusal:
        return refusal
    if _verified(request, link):
        return redirect("pay:bill", token)
    bill = link.bill
    return render(
        request,
        "pay/link.html",
        {
            "link": link,
            "bill": bill,
            "phone": bill.patient.masked_phone,
            "error": error,
            "code_sent": bool(request.GET.get("sent")) and not error,
        },
        status=400 if error else 200,
    )


@require_POST
def send_code(request: HttpRequest, token: str) -> HttpResponse:
    link = _link(token)
    refusal = _unusable(request, link)
    if refusal:
        return refusal
    try:
        code_send(phone=str(link.bill.patient.phone), purpose=_purpose(link))
    except DomainError as error:
        return link_page(request, token, error=error.message)
    return redirect(reverse("pay:link", args=[token]) + "?sent=1")


@require_POST
def verify_code(request: HttpRequest, token: str) -> HttpResponse:
    link = _link(token)
    refusal = _unusable(request, link)
    if refusal:
        return refusal
    code = request.POST.get("code", "")
    try:
        code_check(phone=str(link.bill.patient.phone), purpose=_purpose(link), code=code[:12])
    except DomainError as error:
        return link_page(request, token, error=error.message)
    request.session.cycle_key()
    request.session[_session_key(link)] = time.time() + settings.PAYMENT_SESSION_SECONDS
    return redirect("pay:bill", token)


def bill_page(request: HttpRequest, token: str) -> HttpResponse:
    link = _link(token)
    refusal = _unusable(request, link)
    if refusal:
        return refusal
    if not _verified(request, link):
        return redirect("pay:link", token)
    bill = link.bill
    charges = bill.visit.charges.filter(void__isnull=True).order_by("pk")
    return render(request, "pay/bill.html", {"link": link, "bill": bill, "charges": charges})
