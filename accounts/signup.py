"""Signing up online (``/signup/``, issue 17, seed 002): a resident signs on the phone; a
person from outside the region joins through their credit score. The phone is proven by an
SMS code, the details are checked as the desk checks them, the agreement is the same
versioned text as the printed one, accepted by an explicit act, and a real-name check
(``accounts.realname``) confirms the person. The signature record keeps the terms' version
and a hash of their text, the time, the address, the browser and the verified phone."""

import hashlib

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import CreditAgreement, Institution, OnlineSignature, SigningChannel
from accounts.realname import (
    NO_MATCH,
    UNAVAILABLE,
    RealNameProvider,
    realname_provider,
    unavailable_error,
)
from accounts.services import PatientDetails, patient_enrol
from creditcare.errors import DomainError

TERMS_TEMPLATE = "accounts/_agreement_terms.html"


def agreement_terms_sha256() -> str:
    """The hash of the terms' text as signed (in Chinese, the agreement's language)."""
    with translation.override("zh-hans"):
        text = render_to_string(TERMS_TEMPLATE)
    return hashlib.sha256(text.encode()).hexdigest()


def sign_up_online(
    *,
    details: PatientDetails,
    institution: Institution,
    score_consent: bool,
    client_ip: str | None,
    user_agent: str,
) -> CreditAgreement:
    """Create the patient and sign their agreement online, or raise ``DomainError`` (why
    not: no match, the check unavailable, no consent, a score below the floor) or
    ``ValidationError`` (the details, as at the desk). ``details.phone`` is the phone the
    person proved with a code."""
    provider = realname_provider()
    if provider is None:
        raise DomainError(
            "online_signup_unavailable",
            _("Signing up online is not available just now: please sign at any hospital window."),
        )
    if not details.resident_of_region and not score_consent:
        raise DomainError(
            "score_consent_required",
            _(
                "People from outside the region join through their credit score: allow the "
                "check, or sign at a hospital window."
            ),
        )
    _realname_confirm(provider, details)
    # One transaction: no agreement signed online without its signature record. (The
    # score provider is asked inside it, before any row is locked.)
    with transaction.atomic():
        agreement = patient_enrol(
            details=details, institution=institution, channel=SigningChannel.ONLINE, actor=None
        )
        OnlineSignature.objects.create(
            agreement=agreement,
            terms_version=settings.AGREEMENT_TERMS_VERSION,
            terms_sha256=agreement_terms_sha256(),
            phone=details.phone,
            client_ip=client_ip,
            user_agent=user_agent[:300],
        )
    return agreement


def _realname_confirm(provider: RealNameProvider, details: PatientDetails) -> None:
    """The real-name service says the name and the number belong together, or ``DomainError``."""
    found = provider.verify(name=details.name.strip(), id_number=details.id_number.strip())
    if found == UNAVAILABLE:
        raise unavailable_error()
    if found == NO_MATCH:
        raise DomainError(
            "realname_no_match",
            _(
                "The name and the identity number could not be confirmed as yours. Please sign "
                "at any hospital window, with your identity document."
            ),
        )
