"""Staff screens of the accounts admin beyond plain model pages: the sign-up desk, agreement
transitions with a reason, the printable agreement, the limit change form and a staff
member's own two-factor sign-in.

Each view checks its permission, validates a form and calls one service.
"""

import django_otp
from django import forms
from django.contrib import messages
from django.contrib.admin import AdminSite, ModelAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import can_proceed

from accounts import services, two_factor
from accounts.family import family_payer_add, mobile_phone
from accounts.forms import (
    AuthenticatorConfirmForm,
    ConfirmForm,
    EnrolForm,
    LimitChangeForm,
    ReasonForm,
)
from accounts.models import (
    AgreementStatus,
    CreditAgreement,
    CreditLine,
    CreditPolicy,
    LimitChangeSource,
    Patient,
)
from accounts.selectors import patient_search
from creditcare.errors import DomainError

AGREEMENT_ACTIONS = {
    # action: (service, permission, button label)
    "suspend": (services.agreement_suspend, "accounts.suspend_agreement", gettext_lazy("Suspend")),
    "reactivate": (
        services.agreement_reactivate,
        "accounts.suspend_agreement",
        gettext_lazy("Reactivate"),
    ),
    "terminate": (
        services.agreement_terminate,
        "accounts.terminate_agreement",
        gettext_lazy("Terminate"),
    ),
}


def agreement_actions(user, agreement: CreditAgreement | None) -> list[tuple[str, str]]:
    """The transitions this user may start on this agreement now: ``[(action, label)]``."""
    if agreement is None:
        return []
    return [
        (name, label)
        for name, (_service, permission, label) in AGREEMENT_ACTIONS.items()
        if user.has_perm(permission)
        and can_proceed(getattr(agreement, name), check_conditions=False)
    ]


def require(request: HttpRequest, *permissions: str) -> None:
    """403 unless the user has every one of ``permissions``."""
    if not request.user.has_perms(permissions):
        raise PermissionDenied


def form_page(
    request: HttpRequest, model_admin: ModelAdmin, *, original, form, title: str, label: str
) -> HttpResponse:
    """An admin page with one form about ``original`` (a reason, a limit, a payment)."""
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": original,
        "title": title,
        "form": form,
        "label": label,
    }
    return render(request, "admin/accounts/reason_form.html", context)


def _enrol_initial(query: str) -> dict[str, str]:
    """Prefill the new sign-up with what the clerk searched for."""
    query = query.strip()
    digits = query.lstrip("+")
    if digits.isdigit() and len(digits) == 11 and digits.startswith("1"):
        return {"phone": query}
    if query and any(ch.isdigit() for ch in query):
        return {"citizen_card": query.upper()}
    return {"name": query} if query else {}


def desk_view(request: HttpRequest, model_admin: ModelAdmin) -> HttpResponse:
    require(request, "accounts.add_patient", "accounts.sign_agreement")
    query = request.GET.get("q", "").strip()
    institution = request.user.institution
    form = EnrolForm(request.POST or None, initial=_enrol_initial(query))
    if request.method == "POST" and institution is None:
        messages.error(request, _("Your account has no institution; ask an administrator."))
    elif request.method == "POST" and form.is_valid():
        try:
            agreement = services.patient_enrol(
                details=services.PatientDetails(**form.cleaned_data),
                institution=institution,
                actor=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                _("%(name)s is signed up. Print the agreement for their signature.")
                % {"name": agreement.patient.name},
            )
            url = reverse("admin:accounts_patient_desk")
            return redirect(f"{url}?{urlencode({'q': agreement.patient.citizen_card})}")
    patients = list(patient_search(query=query)) if query else []
    for patient in patients:
        agreement = getattr(patient, "agreement", None)
        patient.desk_actions = agreement_actions(request.user, agreement)
        patient.can_sign = agreement is None or agreement.status == AgreementStatus.PENDING
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("Sign-up desk"),
        "query": query,
        "patients": patients,
        "searched": bool(query),
        "form": form,
        "institution": institution,
        "policy": CreditPolicy.current(),
    }
    return render(request, "admin/accounts/desk.html", context)


def patient_sign_view(
    request: HttpRequest, model_admin: ModelAdmin, object_id: int
) -> HttpResponse:
    """Sign the agreement of a patient who has none yet or only applied (pending)."""
    require(request, "accounts.sign_agreement")
    patient = get_object_or_404(Patient, pk=object_id)
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if request.user.institution is None:
            messages.error(request, _("Your account has no institution; ask an administrator."))
        else:
            try:
                services.agreement_sign(
                    patient=patient, institution=request.user.institution, actor=request.user
                )
            except DomainError as error:
                messages.error(request, error.message)
            else:
                messages.success(
                    request,
                    _("%(name)s is signed up. Print the agreement for their signature.")
                    % {"name": patient.name},
                )
        url = reverse("admin:accounts_patient_desk")
        return redirect(f"{url}?{urlencode({'q': patient.citizen_card})}")
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": patient,
        "title": _("Sign the agreement: %(name)s") % {"name": patient.name},
        "form": form,
        "label": _("Sign the agreement"),
    }
    return render(request, "admin/accounts/reason_form.html", context)


def agreement_action_view(
    request: HttpRequest, model_admin: ModelAdmin, object_id: int, action: str
) -> HttpResponse:
    if action not in AGREEMENT_ACTIONS:
        raise PermissionDenied
    service, permission, label = AGREEMENT_ACTIONS[action]
    require(request, permission)
    agreement = get_object_or_404(CreditAgreement.objects.select_related("patient"), pk=object_id)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            service(agreement=agreement, actor=request.user, reason=form.cleaned_data["reason"])
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Done: %(action)s.") % {"action": label})
        return redirect("admin:accounts_creditagreement_change", agreement.pk)
    return form_page(
        request,
        model_admin,
        original=agreement,
        form=form,
        title=f"{label}: {agreement.patient.name}",
        label=label,
    )


def agreement_print_view(
    request: HttpRequest, model_admin: ModelAdmin, object_id: int
) -> HttpResponse:
    require(request, "accounts.view_creditagreement")
    agreement = get_object_or_404(
        CreditAgreement.objects.select_related("patient", "institution", "signed_by"), pk=object_id
    )
    lines = {line.pool: line for line in agreement.patient.credit_lines.all()}
    return render(
        request,
        "accounts/agreement_print.html",
        {"agreement": agreement, "patient": agreement.patient, "lines": lines},
    )


def limit_change_view(
    request: HttpRequest, model_admin: ModelAdmin, object_id: int
) -> HttpResponse:
    require(request, "accounts.change_credit_limit")
    line = get_object_or_404(CreditLine.objects.select_related("patient"), pk=object_id)
    form = LimitChangeForm(request.POST or None, initial={"new_limit": line.limit})
    if request.method == "POST" and form.is_valid():
        try:
            change = services.credit_limit_change(
                credit_line=line,
                new_limit=form.cleaned_data["new_limit"],
                reason=form.cleaned_data["reason"],
                source=LimitChangeSource.STAFF,
                actor=request.user,
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            if change:
                messages.success(
                    request,
                    _("Limit changed from %(old)s to %(new)s.")
                    % {"old": change.old_limit, "new": change.new_limit},
                )
            else:
                messages.info(
                    request, _("The limit was already %(limit)s.") % {"limit": line.limit}
                )
            return redirect("admin:accounts_creditline_change", line.pk)
    return form_page(
        request,
        model_admin,
        original=line,
        form=form,
        title=_("Change limit: %(line)s") % {"line": line},
        label=_("Change limit"),
    )


def two_factor_view(request: HttpRequest, site: AdminSite) -> HttpResponse:
    """The staff member's own authenticator app: its state, and setting one up (a QR code and
    the secret, confirmed with a first code), the first time or on a new phone."""
    user = request.user
    device = two_factor.authenticator_of(user)
    must_enrol = two_factor.session_state(request) is two_factor.SessionState.MUST_ENROL
    form = AuthenticatorConfirmForm(request.POST or None)
    setting_up = device is None or request.method == "POST" or "new" in request.GET
    key = two_factor.candidate_key(request.session) if setting_up else ""
    if request.method == "POST" and form.is_valid():
        try:
            device = services.authenticator_enrol(
                user=user, key=key, code=form.cleaned_data["code"]
            )
        except DomainError as error:
            form.add_error("code", error.message)
        else:
            two_factor.candidate_forget(request.session)
            request.session.cycle_key()  # the session is worth more now
            django_otp.login(request, device)  # it has given a code
            messages.success(
                request,
                _(
                    "Two-factor sign-in is on: sign in with your password and the code the "
                    "app shows."
                ),
            )
            return redirect("admin:index")
    context = {
        **site.each_context(request),
        "title": _("Two-factor sign-in"),
        "device": device,
        "required": two_factor.required_for(user),
        "must_enrol": must_enrol,
        "setting_up": setting_up,
        "form": form,
    }
    if must_enrol:  # nothing else opens yet: no menu of it
        context.update(available_apps=[], is_nav_sidebar_enabled=False)
    if setting_up:
        url = two_factor.provisioning_url(user, key)
        context.update(
            qr_code=two_factor.qr_code_svg(url), secret=two_factor.secret_for_typing(key)
        )
    return render(request, "admin/accounts/two_factor.html", context)


class FamilyPayerForm(forms.Form):
    phone = forms.CharField(label=gettext_lazy("Family member's mobile number"), max_length=20)
    # A mistyped number would send a stranger the patient's bills: typed twice.
    phone_again = forms.CharField(label=gettext_lazy("The number again"), max_length=20)
    present = forms.BooleanField(
        label=gettext_lazy("The patient is here, and agrees that this phone pays their bills"),
    )

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("phone", "").strip() != cleaned.get("phone_again", "").strip():
            self.add_error("phone_again", _("The two numbers differ."))
        return cleaned


def family_payer_add_view(
    request: HttpRequest, model_admin: ModelAdmin, object_id: int
) -> HttpResponse:
    """At the window, with the patient present: a family member's phone that pays."""
    require(request, "accounts.add_familypayer")
    patient = get_object_or_404(Patient, pk=object_id)
    form = FamilyPayerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            phone = mobile_phone(form.cleaned_data["phone"])
            family_payer_add(patient=patient, phone=phone, actor=request.user)
        except DomainError as error:
            form.add_error("phone", error.message)
        else:
            messages.success(request, _("The family member's phone is added."))
            return redirect("admin:accounts_patient_change", patient.pk)
    title = _("A family member who pays for %(name)s") % {"name": patient.name}
    return form_page(request, model_admin, original=patient, form=form, title=title, label=_("Add"))
