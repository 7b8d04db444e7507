"""The patient's own page, ``/me/``: sign in with the phone and an SMS code (the same code
rules as payment links), then the agreement, both credit lines, the running bill of open
visits, bills due, paid and overdue, and invoices. A phone may belong to several patients
(family members share one): the page shows each."""

import time

import phonenumbers
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import Patient
from billing.models import VisitStatus
from billing.payments.selectors import patient_movements
from billing.visits.selectors import live_charges
from creditcare.errors import DomainError
from notifications.codes import code_check, code_send

SESSION_KEY = "me"


def _phone(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def signed_in_phone(request: HttpRequest) -> str | None:
    me = request.session.get(SESSION_KEY) or {}
    return me.get("phone") if me.get("until", 0) > time.time() else None


def me_page(request: HttpRequest) -> HttpResponse:
    phone = signed_in_phone(request)
    if phone is None:
        return render(request, "me/sign_in.html", {"phone": request.GET.get("phone", "")})
    patients = (
        Patient.objects.filter(phone=phone)
        .select_related("agreement")
        .prefetch_related("credit_lines")
        .order_by("pk")
    )
    now = timezone.now()
    people = []
    for patient in patients:
        open_visits = patient.visits.filter(status=VisitStatus.OPEN).select_related("institution")
        bills = (
            patient.bills.select_related("institution", "invoice", "visit")
            .prefetch_related("payment_links", "invoice__einvoices")
            .order_by("-closed_at")[:50]
        )
        people.append(
            {
                "patient": patient,
                "agreement": getattr(patient, "agreement", None),
                "lines": sorted(
                    patient.credit_lines.all(), key=lambda line: line.pool != "outpatient"
                ),
                "open_visits": [(visit, live_charges(visit=visit)) for visit in open_visits],
                "bills": bills,
                "movements": patient_movements(patient.pk),
            }
        )
    return render(request, "me/home.html", {"people": people, "now": now})


@require_POST
def me_send_code(request: HttpRequest) -> HttpResponse:
    phone = _phone(request.POST.get("phone", ""))
    context = {"phone": request.POST.get("phone", "")[:20]}
    if phone is None:
        context["error"] = _("Please enter a mobile number.")
        return render(request, "me/sign_in.html", context, status=400)
    # The same answers whether or not the number is known, its limits included: the page
    # reveals nobody. Only a known number gets the SMS.
    known = Patient.objects.filter(phone=phone).exists()
    try:
        code_send(phone=phone, purpose=f"me:{phone}", deliver=known)
    except DomainError as error:
        if error.code != "code_too_soon":
            context["error"] = error.message
            return render(request, "me/sign_in.html", context, status=400)
        # A code went out a moment ago (right after paying, say): its box, and when another
        # may be asked for.
        context["resend_in"] = error.details["retry_after_seconds"]
    context["code_sent"] = True
    return render(request, "me/sign_in.html", context)


@require_POST
def me_verify(request: HttpRequest) -> HttpResponse:
    phone = _phone(request.POST.get("phone", ""))
    context = {"phone": request.POST.get("phone", "")[:20], "code_sent": True}
    try:
        if phone is None:
            raise DomainError("code_invalid", _("The code is wrong or has expired."))
        code_check(phone=phone, purpose=f"me:{phone}", code=request.POST.get("code", "")[:12])
    except DomainError as error:
        context["error"] = error.message
        return render(request, "me/sign_in.html", context, status=400)
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "phone": phone,
        "until": time.time() + settings.PAYMENT_SESSION_SECONDS,
    }
    return redirect("pay:me")


@require_POST
def me_sign_out(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_KEY, None)
    return redirect("pay:me")
