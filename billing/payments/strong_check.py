"""The stronger check of a large bill (seed 004): paying more than ``STRONG_CHECK_ABOVE``
through a link asks, after the SMS code, for the last 6 characters of the patient's ID
number, and then for a real-name check where a service is configured
(``accounts.realname``). Wrong answers lock it as wrong codes lock a link (5 in 15 minutes,
``notifications.codes``); every answer is kept (``StrongCheckAttempt``)."""

import datetime as dt
import hmac

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.realname import NO_MATCH, UNAVAILABLE, realname_provider, unavailable_error
from billing.models import PaymentLink, StrongCheckAttempt
from creditcare.errors import DomainError
from notifications.codes import LOCK, MAX_CHECKS, locked_error


def strong_check_needed(link: PaymentLink) -> bool:
    """A bill above the threshold, whichever of its links pays it (an instalment's too)."""
    return link.bill.self_pay > settings.STRONG_CHECK_ABOVE


def strong_check(*, link: PaymentLink, answer: str, client_ip: str | None = None) -> None:
    """Accept the answer, or raise ``DomainError`` (wrong, locked, no match, unavailable).
    The real-name service is asked outside the transaction: a slow one holds no lock."""
    now = timezone.now()
    patient = link.bill.patient
    with transaction.atomic():
        PaymentLink.objects.select_for_update().filter(pk=link.pk).first()  # one at a time
        until = _locked_until(link, now)
        if until:
            raise _locked(until, now)
        expected = patient.id_number[-6:].upper()
        passed = hmac.compare_digest(answer.strip().upper().encode(), expected.encode())
        if not passed:
            StrongCheckAttempt.objects.create(link=link, passed=False, client_ip=client_ip)
    if not passed:
        until = _locked_until(link, timezone.now())
        if until:
            raise _locked(until, now)
        raise DomainError(
            "strong_check_wrong", _("That is not the end of the patient's ID number.")
        )
    provider = realname_provider()
    realname = provider.verify(name=patient.name, id_number=patient.id_number) if provider else ""
    StrongCheckAttempt.objects.create(
        link=link,
        passed=realname not in (NO_MATCH, UNAVAILABLE),
        realname=realname,
        client_ip=client_ip,
    )
    if realname == UNAVAILABLE:
        raise unavailable_error()
    if realname == NO_MATCH:
        raise DomainError(
            "realname_no_match",
            _(
                "The real-name check did not match this patient. Please pay at a hospital "
                "window, with the patient's identity document."
            ),
        )


def _locked(until: dt.datetime, now: dt.datetime) -> DomainError:
    return locked_error(
        until,
        now,
        code="strong_check_locked",
        message=gettext_lazy("Too many wrong answers. Please try again in %(minutes)d minutes."),
    )


def _locked_until(link: PaymentLink, now: dt.datetime) -> dt.datetime | None:
    """Locked for LOCK after MAX_CHECKS wrong answers within LOCK (an unavailable real-name
    service is no wrong answer)."""
    wrong = list(
        link.strong_checks.filter(passed=False, created_at__gt=now - LOCK)
        .exclude(realname=UNAVAILABLE)
        .values_list("created_at", flat=True)
    )
    return max(wrong) + LOCK if len(wrong) >= MAX_CHECKS else None
