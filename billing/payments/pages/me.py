"""The patient's own page, ``/me/``: sign in with the phone and an SMS code (the same code
rules as payment links), then the agreement, both credit lines, the running bill of open
visits, bills due, paid and overdue, and invoices. A phone may belong to several patients
(family members share one): the page shows each."""

import re
import time

import phonenumbers
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.family import (
    family_payer_add,
    family_payer_check,
    family_payer_remove,
    family_payers,
    mobile_phone,
)
from accounts.masking import mask_phone
from accounts.models import FamilyPayer, Patient
from billing.models import Visit, VisitStatus
from billing.payments.selectors import patient_movements
from billing.visits.selectors import billed_part_way, charges_unbilled
from creditcare.errors import DomainError
from creditcare.money import ZERO
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


def phone_proven(request: HttpRequest, key: str) -> str | None:
    """The phone this session proved with a code under ``key`` (/me/'s, the sign-up's), while
    it is fresh."""
    state = request.session.get(key) or {}
    return state.get("phone") if state.get("until", 0) > time.time() else None


def phone_prove(request: HttpRequest, key: str, phone: str) -> None:
    """The session passed the code for ``phone``: a new session key, fresh for a while."""
    request.session.cycle_key()
    request.session[key] = {"phone": phone, "until": time.time() + settings.PAYMENT_SESSION_SECONDS}


def signed_in_phone(request: HttpRequest) -> str | None:
    return phone_proven(request, SESSION_KEY)


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
                "open_visits": [_visit_running(visit) for visit in open_visits],
                "bills": bills,
                "movements": patient_movements(patient.pk),
                "family": family_payers(patient),
            }
        )
    context = {"people": people, "now": now, "added": request.GET.get("added")}
    return render(request, "me/home.html", context)


def _visit_running(visit: Visit) -> dict:
    """An open visit's charges on no bill yet and their total, and whether part of the stay
    is on interim bills already (shown with the bills)."""
    charges = list(charges_unbilled(visit=visit))
    return {
        "visit": visit,
        "charges": charges,
        "total": sum((charge.amount for charge in charges), ZERO),
        "billed_part_way": billed_part_way(visit=visit),
    }


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
    phone_prove(request, SESSION_KEY, phone)
    return redirect("pay:me")


@require_POST
def me_sign_out(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_KEY, None)
    return redirect("pay:me")


def _own_patient(request: HttpRequest, patient_id: str) -> Patient | None:
    """One of the patients of the signed-in phone, or ``None``."""
    phone = signed_in_phone(request)
    if phone is None or not re.fullmatch(r"[0-9]{1,18}", str(patient_id)):
        return None
    return Patient.objects.filter(pk=int(patient_id), phone=phone).first()


def _family_purpose(patient: Patient, phone: str) -> str:
    return f"family:{patient.pk}:{phone}"


@require_POST
def me_family_add(request: HttpRequest) -> HttpResponse:
    """Add a family member's phone: a code goes to both phones (each says who is adding
    which phone), and both are asked for on the next page."""
    patient = _own_patient(request, request.POST.get("patient", ""))
    if patient is None:
        return redirect("pay:me")
    context = {"patient": patient, "raw_phone": request.POST.get("phone", "")[:20]}
    try:
        phone = mobile_phone(request.POST.get("phone", ""))
        family_payer_check(patient=patient, phone=phone)
        for to in (str(patient.phone), phone):
            code_send(
                phone=to,
                purpose=_family_purpose(patient, phone),
                context={"adding": mask_phone(phone), "patient_name": patient.name},
            )
    except DomainError as error:
        context["error"] = error.message
        return render(request, "me/family_add.html", context, status=400)
    context.update(phone=phone, masked=mask_phone(phone), patient_phone=patient.masked_phone)
    return render(request, "me/family_confirm.html", context)


@require_POST
def me_family_confirm(request: HttpRequest) -> HttpResponse:
    """Both codes: each is checked on its own (a typo in one does not spend the other), and
    the phone is added once both have passed."""
    patient = _own_patient(request, request.POST.get("patient", ""))
    if patient is None:
        return redirect("pay:me")
    phone = request.POST.get("phone", "")[:20]
    key = _family_purpose(patient, phone)  # the session keeps which codes passed
    passed = set(request.session.get(key, []))
    context = {
        "patient": patient,
        "phone": phone,
        "masked": mask_phone(phone),
        "patient_phone": patient.masked_phone,
    }
    try:
        for to, field in ((str(patient.phone), "patient_code"), (phone, "family_code")):
            if field not in passed:
                code = request.POST.get(field, "")[:12]
                code_check(phone=to, purpose=_family_purpose(patient, phone), code=code)
                passed.add(field)
        family_payer_add(patient=patient, phone=phone)
    except DomainError as error:
        request.session[key] = sorted(passed)
        context.update(error=error.message, passed=passed)
        return render(request, "me/family_confirm.html", context, status=400)
    request.session.pop(key, None)
    return redirect(reverse("pay:me") + "?added=1")


@require_POST
def me_family_remove(request: HttpRequest, payer_id: int) -> HttpResponse:
    phone = signed_in_phone(request)
    payer = FamilyPayer.objects.filter(pk=payer_id, patient__phone=phone).first()
    if phone is not None and payer is not None:
        family_payer_remove(payer=payer)
    return redirect("pay:me")
