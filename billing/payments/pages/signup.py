"""The online sign-up's pages (``/signup/``): mobile first, no JavaScript, in the patients'
pages' style. Three steps, each kept in the session: the phone and its code, the details,
the agreement. The rules are ``accounts.signup``'s."""

import dataclasses
import datetime as dt

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.family import mobile_phone
from accounts.forms import SignupForm
from accounts.masking import mask_identity_number, mask_phone
from accounts.models import Institution
from accounts.services import PatientDetails
from accounts.signup import TERMS_TEMPLATE, sign_up_online
from billing.payments.pages.me import phone_prove, phone_proven
from creditcare.errors import DomainError
from creditcare.http import client_ip
from notifications.codes import code_check, code_send

SESSION_KEY = "signup"
# What the details step keeps for the agreement step (an older session's lacks some).
SAVED_KEYS = {
    *(f.name for f in dataclasses.fields(PatientDetails)),
    "institution",
    "score_consent",
}


def _proven_phone(request: HttpRequest) -> str | None:
    return phone_proven(request, SESSION_KEY)


# Codes one address may have sent to new numbers in an hour: the per-phone limits alone
# would let one visitor text any number of strangers.
CODES_PER_ADDRESS = 10


def _codes_from_here(request: HttpRequest) -> None:
    key = f"signup-codes:{client_ip(request)}"
    cache.add(key, 0, timeout=3600)
    if cache.incr(key) > CODES_PER_ADDRESS:
        raise DomainError(
            "code_rate_limited",
            _("Too many codes were asked for from here. Please try again in an hour."),
        )


@never_cache
def start(request: HttpRequest) -> HttpResponse:
    if _proven_phone(request):
        return redirect("signup:details")
    return render(request, "signup/start.html", {"phone": ""})


@never_cache
@require_POST
def send_code(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("phone", "")[:20]
    context = {"phone": raw}
    try:
        phone = mobile_phone(raw)
        _codes_from_here(request)
        code_send(phone=phone, purpose=f"signup:{phone}")
    except DomainError as error:
        context["error"] = error.message
        return render(request, "signup/start.html", context, status=400)
    context["code_sent"] = True
    return render(request, "signup/start.html", context)


@never_cache
@require_POST
def verify_code(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("phone", "")[:20]
    context = {"phone": raw, "code_sent": True}
    try:
        phone = mobile_phone(raw)
        code_check(phone=phone, purpose=f"signup:{phone}", code=request.POST.get("code", "")[:12])
    except DomainError as error:
        context["error"] = error.message
        return render(request, "signup/start.html", context, status=400)
    phone_prove(request, SESSION_KEY, phone)
    return redirect("signup:details")


@never_cache
def details(request: HttpRequest) -> HttpResponse:
    phone = _proven_phone(request)
    if phone is None:
        return redirect("signup:start")
    form = SignupForm(request.POST or None, phone=phone)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        state = request.session[SESSION_KEY]
        state["details"] = {
            **{f.name: data.get(f.name) for f in dataclasses.fields(PatientDetails)},
            "phone": phone,
            "birth_date": data["birth_date"].isoformat() if data.get("birth_date") else None,
            "institution": data["institution"].pk,
            "score_consent": data["score_consent"],
        }
        request.session[SESSION_KEY] = state
        return redirect("signup:agreement")
    status = 400 if request.method == "POST" else 200
    return render(request, "signup/details.html", {"form": form}, status=status)


@never_cache
def agreement(request: HttpRequest) -> HttpResponse:
    phone = _proven_phone(request)
    saved = (request.session.get(SESSION_KEY) or {}).get("details")
    if phone is None or not saved or not saved.keys() >= SAVED_KEYS:
        return redirect("signup:start")
    context = {
        "terms": TERMS_TEMPLATE,
        "name": saved["name"],
        "masked_id": mask_identity_number(saved["id_number"]),
        "citizen_card": saved["citizen_card"],
        "masked_phone": mask_phone(phone),
        "version": settings.AGREEMENT_TERMS_VERSION,
    }
    if request.method != "POST":
        return render(request, "signup/agreement.html", context)
    if request.POST.get("accept") != "yes":
        context["error"] = _("Tick the box to accept the agreement, or leave the page.")
        return render(request, "signup/agreement.html", context, status=400)
    institution = Institution.objects.filter(pk=saved["institution"], is_active=True).first()
    if institution is None:  # it left the scheme since the details were given
        return redirect("signup:details")
    fields = {f.name for f in dataclasses.fields(PatientDetails)}
    values = {k: v for k, v in saved.items() if k in fields}
    if values.get("birth_date"):
        values["birth_date"] = dt.date.fromisoformat(values["birth_date"])
    try:
        signed = sign_up_online(
            details=PatientDetails(**values),
            institution=institution,
            score_consent=bool(saved["score_consent"]),
            client_ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except DomainError as refused:
        return render(request, "signup/refused.html", {"reason": refused.message}, status=409)
    except ValidationError:  # signed up already (told after the real-name check only)
        reason = _(
            "You cannot be signed up online with these details. Please sign at any hospital "
            "window, with your identity document and citizen card."
        )
        return render(request, "signup/refused.html", {"reason": reason}, status=409)
    request.session.pop(SESSION_KEY, None)
    lines = {line.pool: line for line in signed.patient.credit_lines.all()}
    return render(request, "signup/done.html", {"agreement": signed, "lines": lines})
