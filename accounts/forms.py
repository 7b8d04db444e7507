import dataclasses

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from accounts.identity import IdentityDocumentType, Sex
from accounts.models import Institution, Patient
from accounts.services import PatientDetails, authenticator_sign_in, patient_build
from creditcare.errors import DomainError


def _raw(value: object) -> object:
    """A value that failed its field's own check, as the patient's rules may still look at
    it: without NUL characters, which no database text can hold."""
    return value.replace("\x00", "") if isinstance(value, str) else value


class EnrolForm(forms.Form):
    """The sign-up desk's one form: a new patient and their agreement, signed at once."""

    check_unique = True  # the desk says a card is taken (and whose): staff search for it

    name = forms.CharField(label=_("Real name"), max_length=100)
    id_type = forms.ChoiceField(
        label=_("Identity document"),
        choices=IdentityDocumentType.choices,
        initial=IdentityDocumentType.RESIDENT_ID,
    )
    id_number = forms.CharField(label=_("Identity number"), max_length=32)
    citizen_card = forms.CharField(label=_("Citizen card number"), max_length=32)
    phone = PhoneNumberField(
        label=_("Mobile phone"),
        region="CN",
        error_messages={"invalid": _("This is not a valid phone number; please check it.")},
    )
    resident_of_region = forms.BooleanField(
        label=_("Resident of the region"), required=False, initial=True
    )
    birth_date = forms.DateField(
        label=_("Birth date"),
        required=False,
        help_text=_("Only for documents other than a resident ID (read from the ID otherwise)."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    sex = forms.ChoiceField(
        label=_("Sex"), choices=[("", "---------"), *Sex.choices], required=False
    )

    def clean_citizen_card(self) -> str:
        card = self.cleaned_data["citizen_card"].strip().upper()
        existing = Patient.objects.filter(citizen_card=card).first()
        if existing:
            raise forms.ValidationError(
                _("This citizen card is already signed up (%(name)s): search for it above."),
                code="duplicate_citizen_card",
                params={"name": existing.name},
            )
        return card

    def clean(self) -> dict:
        """The rules of a patient (the identity number's check digit and birth date, a mobile
        number, ...) checked beside the form's own, so every field's error shows at once."""
        cleaned = super().clean()
        values = {
            field.name: cleaned.get(field.name, _raw(self.data.get(field.name, "")))
            for field in dataclasses.fields(PatientDetails)
        }
        values["resident_of_region"] = bool(values["resident_of_region"])
        values["birth_date"] = cleaned.get("birth_date")
        try:
            patient_build(details=PatientDetails(**values), check_unique=self.check_unique)
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                if name not in self.errors:
                    self.add_error(name if name in self.fields else None, messages)
        return cleaned


class ConfirmForm(forms.Form):
    """A button, nothing to fill in."""


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=1000
    )


class LimitChangeForm(ReasonForm):
    new_limit = forms.DecimalField(
        label=_("New limit (CNY)"), min_value=0, max_digits=12, decimal_places=2
    )

    field_order = ["new_limit", "reason"]


def _code_field(**kwargs) -> forms.CharField:
    return forms.CharField(
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 10}
        ),
        **kwargs,
    )


def _digits(code: str) -> str:
    return "".join(code.split())  # apps show "123 456"


class StaffSignInForm(AdminAuthenticationForm):
    """The admin's sign-in: username, password and, for staff with an authenticator app, its
    current code (accounts/two_factor.py)."""

    otp_token = _code_field(
        label=_("Authenticator code"),
        required=False,
        help_text=_("The six digits your authenticator app shows, if you use one to sign in."),
    )

    def clean(self) -> dict:
        cleaned = super().clean()  # the password (django-axes counts and locks out)
        user = self.get_user()
        if user is None:
            return cleaned
        try:
            device = authenticator_sign_in(user=user, code=_digits(cleaned.get("otp_token", "")))
        except DomainError as error:
            if error.code != "two_factor_code_required":
                # A wrong code is a failed sign-in, as a wrong password is: django-axes
                # counts it towards the lockout of this user and this address.
                user_login_failed.send(
                    sender=__name__,
                    credentials={"username": user.get_username()},
                    request=self.request,
                )
            raise ValidationError(error.message, code=error.code) from None
        # django-otp's user_logged_in receiver marks the session as signed in with a code.
        user.otp_device = device
        return cleaned


class AuthenticatorConfirmForm(forms.Form):
    """The first code of a new authenticator app, which proves it was set up right."""

    code = _code_field(label=_("Code"))

    def clean_code(self) -> str:
        return _digits(self.cleaned_data["code"])


class SignupForm(EnrolForm):
    """The online sign-up's details, checked as the desk checks them; the phone is the one
    proven by a code, and a citizen card already signed up names nobody."""

    institution = forms.ModelChoiceField(
        label=_("The hospital you usually go to"),
        queryset=Institution.objects.filter(is_active=True).order_by("name"),
        empty_label=None,
    )
    score_consent = forms.BooleanField(
        label=_(
            "From outside the region: I allow CreditCare to ask for my credit score (it sets "
            "whether I can join online, and my limits)"
        ),
        required=False,
    )

    def __init__(self, *args, phone: str, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["phone"]
        self.verified_phone = phone

    # Whether a card or document is signed up already is told nobody here (a stranger could
    # test numbers): signing finds it, after the real-name check (``sign_up_online``).
    check_unique = False

    def clean_citizen_card(self) -> str:
        return self.cleaned_data["citizen_card"].strip().upper()

    def clean(self) -> dict:
        self.cleaned_data["phone"] = self.verified_phone
        return super().clean()
