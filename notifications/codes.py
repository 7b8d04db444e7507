"""Verification codes sent by SMS, with Twilio Verify's rules, enforced in the database:
a code lives 10 minutes and allows 5 checks; after 5 wrong checks the purpose is locked for
15 minutes (the 6th check is refused even if right); a new code can be sent 60 seconds after
the last one, at most 5 an hour per phone. Answers never say whether a code was close.
"""

import datetime as dt
import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from creditcare.errors import DomainError
from notifications.models import VerificationCode, VerificationThrottle
from notifications.services import sms_queue

CODE_TTL = dt.timedelta(minutes=10)
MAX_CHECKS = 5
LOCK = dt.timedelta(minutes=15)
RESEND_AFTER = dt.timedelta(seconds=60)
PER_HOUR = 5


def _hash(phone: str, purpose: str, code: str) -> str:
    message = f"{phone}|{purpose}|{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _serialize(key: str) -> None:
    """Take the row lock for ``key`` (in the caller's transaction)."""
    VerificationThrottle.objects.get_or_create(key=key)
    VerificationThrottle.objects.select_for_update().get(key=key)


def _locked_until(purpose: str, now: dt.datetime) -> dt.datetime | None:
    """Locked for LOCK after MAX_CHECKS wrong checks, counted over every code of the purpose
    (asking for a new code does not reset the count)."""
    recent = VerificationCode.objects.filter(purpose=purpose, last_checked_at__gt=now - LOCK)
    wrong = sum(code.checks - (1 if code.used_at else 0) for code in recent)
    if wrong < MAX_CHECKS:
        return None
    return max(code.last_checked_at for code in recent) + LOCK


def locked_error(
    until: dt.datetime,
    now: dt.datetime,
    *,
    code: str = "code_locked",
    message: str = gettext_lazy("Too many wrong codes. Please try again in %(minutes)d minutes."),
) -> DomainError:
    """Locked until ``until``: the error says for how many minutes more (also the lock of a
    large bill's stronger check, ``billing.payments.strong_check``)."""
    minutes = max(1, int((until - now).total_seconds() // 60) + 1)
    return DomainError(
        code,
        str(message) % {"minutes": minutes},
        {"retry_after_seconds": int((until - now).total_seconds())},
    )


def code_send(
    *,
    phone: str,
    purpose: str,
    deliver: bool = True,
    template: str = "verification_code",
    context: dict | None = None,
) -> VerificationCode:
    """Send a new code to ``phone`` for ``purpose`` (the SMS leaves after commit), in
    ``template`` with ``context`` as well (a code that says what it is for).

    ``deliver=False`` (a number nobody signed up with) keeps the request under the same
    limits as a real one, so the answers cannot tell the two apart, and sends nothing: no
    one can know the code."""
    now = timezone.now()
    with transaction.atomic():
        _serialize(f"phone:{phone}")
        until = _locked_until(purpose, now)
        if until:
            raise locked_error(until, now)
        recent = list(
            VerificationCode.objects.filter(
                phone=phone, created_at__gt=now - dt.timedelta(hours=1)
            ).order_by("-created_at")
        )
        if recent and recent[0].created_at > now - RESEND_AFTER:
            wait = int((recent[0].created_at + RESEND_AFTER - now).total_seconds()) + 1
            raise DomainError(
                "code_too_soon",
                _("A code was just sent. You can ask for another in %(seconds)d seconds.")
                % {"seconds": wait},
                {"retry_after_seconds": wait},
            )
        if len(recent) >= PER_HOUR:
            raise DomainError(
                "code_rate_limited",
                _("Too many codes were sent to this phone. Please try again in an hour."),
            )
        code = f"{secrets.randbelow(10**6):06d}"
        record = VerificationCode.objects.create(
            phone=phone,
            purpose=purpose,
            code_hash=_hash(phone, purpose, code),
            expires_at=now + CODE_TTL,
        )
        if deliver:
            sms_queue(
                to=phone,
                template=template,
                context={
                    **(context or {}),
                    "code": code,
                    "minutes": int(CODE_TTL.total_seconds() // 60),
                },
                dedup_key=f"code:{record.pk}",
            )
    return record


def code_check(*, phone: str, purpose: str, code: str) -> None:
    """Accept the latest live code for ``purpose`` once, or raise ``DomainError``."""
    now = timezone.now()
    wrong = DomainError("code_invalid", _("The code is wrong or has expired."))
    with transaction.atomic():
        _serialize(f"purpose:{purpose}")
        until = _locked_until(purpose, now)
        if until:
            raise locked_error(until, now)
        record = (
            VerificationCode.objects.select_for_update()
            .filter(phone=phone, purpose=purpose, used_at=None, expires_at__gt=now)
            .order_by("-created_at")
            .first()
        )
        if record is None:
            raise wrong
        record.checks += 1
        record.last_checked_at = now
        right = hmac.compare_digest(record.code_hash, _hash(phone, purpose, code.strip()))
        if right:
            record.used_at = now
        record.save(update_fields=["checks", "last_checked_at", "used_at"])
    if not right:
        until = _locked_until(purpose, now)
        if until:
            raise locked_error(until, now)
        raise wrong
