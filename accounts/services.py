"""Writes of the accounts app. Views, forms, the admin and tasks call these; nothing else
changes patients, agreements or limits.

Lock order (shared with billing): credit lines (by primary key), then the agreement.
"""

import datetime as dt
import logging
import math
import secrets
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from functools import cache, partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_fsm import can_proceed
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.locks import (
    LineLimit,
    agreement_lock,
    credit_line_limits_lock_many,
    credit_line_lock,
    credit_lines_lock,
)
from accounts.models import (
    AgreementEvent,
    AgreementStatus,
    CreditAgreement,
    CreditLimitChange,
    CreditLine,
    CreditPolicy,
    CreditPool,
    CreditScore,
    Institution,
    InstitutionApiKey,
    LimitChangeSource,
    Patient,
    SigningChannel,
    User,
)
from accounts.policy import RepaymentRecord, decide_limits, online_signing_allowed
from accounts.scoring import fetch_score
from accounts.selectors import api_key_forget
from creditcare.bulk import columns_update, rows_insert, rows_update
from creditcare.errors import DomainError
from creditcare.i18n import site_language
from creditcare.money import quantize

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PatientDetails:
    """What the window asks of a new patient."""

    name: str
    id_type: str
    id_number: str
    citizen_card: str
    phone: str
    resident_of_region: bool = True
    birth_date: dt.date | None = None
    sex: str = ""


def patient_build(*, details: PatientDetails, check_unique: bool = True) -> Patient:
    """A validated, unsaved patient (raises ``ValidationError`` per field); without
    ``check_unique``, whether the card or document is signed up already is not looked at."""
    patient = Patient(**{**asdict(details), "name": details.name.strip()})
    patient.full_clean(validate_unique=check_unique, validate_constraints=check_unique)
    return patient


def patient_create(*, details: PatientDetails, actor: User | None = None) -> Patient:
    patient = patient_build(details=details)
    patient._history_user = actor
    patient.save()
    return patient


def patient_update(*, patient: Patient, actor: User | None) -> Patient:
    """Save corrected details (validated again; the change is kept in the history)."""
    patient.full_clean()
    patient._history_user = actor
    patient.save()
    return patient


def credit_score_refresh(*, patient: Patient) -> int | None:
    """Ask the configured provider for the patient's score and keep it on record.

    Called outside any transaction: a slow provider must not hold locks.
    """
    score, source = fetch_score(patient)
    if score is not None and source != "csv":  # csv scores are already rows
        CreditScore.objects.create(citizen_card=patient.citizen_card, score=score, source=source)
    return score


def patient_enrol(
    *,
    details: PatientDetails,
    institution: Institution,
    channel: str = SigningChannel.WINDOW,
    actor: User | None,
) -> CreditAgreement:
    """The sign-up desk: create the patient and sign their agreement, all or nothing."""
    patient = patient_build(details=details)
    score = credit_score_refresh(patient=patient)
    try:
        with transaction.atomic():
            patient._history_user = actor
            patient.save()
            return _agreement_sign(
                patient=patient, institution=institution, channel=channel, actor=actor, score=score
            )
    except IntegrityError:
        # Another window signed the same card or document between our check and our insert.
        raise ValidationError(
            {
                "citizen_card": _(
                    "This citizen card or identity document was signed up a moment ago, "
                    "maybe at another window: search for it."
                )
            },
            code="duplicate_patient",
        ) from None


def agreement_open(*, patient: Patient, institution: Institution, channel: str) -> CreditAgreement:
    """Record an application (an online form, say) as a pending agreement: no credit yet."""
    agreement, _created = CreditAgreement.objects.get_or_create(
        patient=patient,
        defaults={
            "institution": institution,
            "channel": channel,
            "terms_version": settings.AGREEMENT_TERMS_VERSION,
        },
    )
    return agreement


def agreement_sign(
    *,
    patient: Patient,
    institution: Institution,
    channel: str = SigningChannel.WINDOW,
    actor: User | None,
) -> CreditAgreement:
    """Sign an existing patient's agreement (creating it if they have none)."""
    score = credit_score_refresh(patient=patient)
    with transaction.atomic():
        return _agreement_sign(
            patient=patient, institution=institution, channel=channel, actor=actor, score=score
        )


def _online_signing_check(*, patient: Patient, score: int | None) -> None:
    policy = CreditPolicy.current().params()
    if not online_signing_allowed(policy, resident=patient.resident_of_region, score=score):
        raise DomainError(
            "score_below_floor",
            _(
                "People from outside the region can sign online only with a credit score of "
                "at least %(floor)s. Please sign at a hospital window."
            )
            % {"floor": policy.online_score_floor},
            {"score_floor": policy.online_score_floor, "score": score},
        )


def _agreement_sign(
    *,
    patient: Patient,
    institution: Institution,
    channel: str,
    actor: User | None,
    score: int | None,
) -> CreditAgreement:
    credit_lines_lock(patient_id=patient.pk)  # if any yet
    if channel == SigningChannel.ONLINE:
        _online_signing_check(patient=patient, score=score)
    agreement_open(patient=patient, institution=institution, channel=channel)
    agreement = agreement_lock(patient_id=patient.pk)
    if agreement.status != AgreementStatus.PENDING:
        raise DomainError(
            "agreement_already_signed",
            _("This patient already signed the credit agreement (status: %(status)s).")
            % {"status": agreement.get_status_display()},
            {"agreement_status": agreement.status},
        )
    agreement.institution = institution
    agreement.channel = channel
    agreement.signed_by = actor
    agreement.signed_at = timezone.now()
    agreement.terms_version = settings.AGREEMENT_TERMS_VERSION
    agreement.sign()
    agreement.save()
    with site_language():
        reason = _("signed at %(institution)s (%(channel)s), terms %(version)s") % {
            "institution": institution.name,
            "channel": agreement.get_channel_display(),
            "version": agreement.terms_version,
        }
    AgreementEvent.objects.create(
        agreement=agreement,
        transition="sign",
        from_status=AgreementStatus.PENDING,
        to_status=agreement.status,
        actor=actor,
        reason=reason,
    )
    for pool in CreditPool.values:
        CreditLine.objects.get_or_create(patient=patient, pool=pool, defaults={"limit": 0})
    # Someone signing has no bills yet: an empty repayment record.
    credit_limits_apply_policy(patient=patient, record=RepaymentRecord(), score=score, actor=actor)
    return agreement


# What else keeps an agreement from ending, told by the apps built on accounts (billing
# registers its open visits and owed bills in its AppConfig.ready). Each is called with the
# patient's id, under the lock of their credit lines, and says whether it blocks.
termination_blockers: list[Callable[[int], bool]] = []

# Told of agreements that moved, with the transition's name, in the transaction that moved
# them (webhooks registers the hospitals' systems in its AppConfig.ready).
transition_listeners: list[Callable[[list[CreditAgreement], str], None]] = []

_TRANSITION_WORDS = {
    "suspend": "suspended",
    "reactivate": "reactivated",
    "terminate": "terminated",
}


def _agreement_transition(
    *,
    agreement: CreditAgreement,
    name: str,
    actor: User | None,
    reason: str,
    for_overdue: bool = False,
) -> CreditAgreement:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required", _("Please give a reason."))
    with transaction.atomic():
        # Credit lines first, so no charge lands while we decide.
        agreement = agreement_lock(patient_id=agreement.patient_id)
        method = getattr(agreement, name)
        if not can_proceed(method, check_conditions=False):
            raise DomainError(
                "transition_not_allowed",
                _("An agreement that is %(status)s cannot be %(action)s.")
                % {"status": agreement.get_status_display(), "action": _TRANSITION_WORDS[name]},
                {"agreement_status": agreement.status},
            )
        blocked = name == "terminate" and any(
            blocks(agreement.patient_id) for blocks in termination_blockers
        )
        if blocked or not can_proceed(method):
            raise DomainError(
                "balance_not_zero",
                _("The patient still has open visits or unpaid bills; settle them first."),
                {"agreement_status": agreement.status},
            )
        event = _transition_apply(
            agreement, name=name, actor=actor, reason=reason, for_overdue=for_overdue
        )
        agreement.save(update_fields=["status", "suspended_for_overdue"])
        AgreementEvent.objects.create(**event)
        for listener in transition_listeners:
            listener([agreement], name)
    return agreement


def _transition_apply(
    agreement: CreditAgreement, *, name: str, actor: User | None, reason: str, for_overdue: bool
) -> dict:
    """Move the (locked) agreement in memory; the fields of its event."""
    from_status = agreement.status
    getattr(agreement, name)()
    agreement.suspended_for_overdue = for_overdue and name == "suspend"
    return {
        "agreement_id": agreement.pk,
        "transition": name,
        "from_status": from_status,
        "to_status": agreement.status,
        "actor_id": actor.pk if actor else None,
        "reason": reason,
    }


def _agreements_transition_many(
    *, agreements: QuerySet, name: str, reasons: Mapping[int, str], for_overdue: bool
) -> list[CreditAgreement]:
    """The sweep's transitions of many agreements (patient id -> reason), in a constant number
    of statements: those ``name`` can move are moved, with their events. The caller holds the
    patients' credit lines."""
    locked = (
        agreements.filter(patient_id__in_array=list(reasons)).select_for_update().order_by("pk")
    )
    moved = [a for a in locked if can_proceed(getattr(a, name))]
    events = [
        _transition_apply(
            a, name=name, actor=None, reason=reasons[a.patient_id], for_overdue=for_overdue
        )
        for a in moved
    ]
    rows_update(moved, ["status", "suspended_for_overdue"])
    columns = {field: [event[field] for event in events] for field in events[0]} if events else {}
    rows_insert(AgreementEvent, columns | {"created_at": timezone.now()}, count=len(events))
    if moved:
        for listener in transition_listeners:
            listener(moved, name)
    return moved


def agreement_suspend(
    *, agreement: CreditAgreement, actor: User | None, reason: str
) -> CreditAgreement:
    return _agreement_transition(agreement=agreement, name="suspend", actor=actor, reason=reason)


def agreements_suspend_for_overdue(*, reasons: Mapping[int, str]) -> list[CreditAgreement]:
    """The overdue sweep's suspensions (patient id -> reason): the active agreements among them
    are suspended, to be lifted automatically once the overdue bills are paid. The caller
    holds the patients' credit lines."""
    return _agreements_transition_many(
        agreements=CreditAgreement.objects.all(), name="suspend", reasons=reasons, for_overdue=True
    )


def agreements_reactivate_after_overdue(*, reasons: Mapping[int, str]) -> list[CreditAgreement]:
    """Lift the sweep's own suspensions (patient id -> reason); staff suspensions stand."""
    return _agreements_transition_many(
        agreements=CreditAgreement.objects.filter(suspended_for_overdue=True),
        name="reactivate",
        reasons=reasons,
        for_overdue=False,
    )


def agreement_reactivate(
    *, agreement: CreditAgreement, actor: User | None, reason: str
) -> CreditAgreement:
    return _agreement_transition(agreement=agreement, name="reactivate", actor=actor, reason=reason)


def agreement_terminate(
    *, agreement: CreditAgreement, actor: User | None, reason: str
) -> CreditAgreement:
    return _agreement_transition(agreement=agreement, name="terminate", actor=actor, reason=reason)


def credit_limit_change(
    *,
    credit_line: CreditLine,
    new_limit: Decimal,
    reason: str,
    source: str,
    actor: User | None,
) -> CreditLimitChange | None:
    """Set a credit line's limit and record why. Returns ``None`` if nothing changed."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required", _("Please give a reason."))
    if new_limit != quantize(new_limit) or new_limit < 0:
        raise DomainError(
            "invalid_limit",
            _("A limit is an amount of 0 or more with at most 2 decimals."),
            {"new_limit": str(new_limit)},
        )
    with transaction.atomic():
        line = credit_line_lock(pk=credit_line.pk)
        changed = _limits_set([(line, new_limit, reason)], source=source, actor=actor)
    credit_line.limit = new_limit
    return CreditLimitChange.objects.get(pk=changed[0]) if changed else None


def _limits_set(
    wanted: list[tuple[CreditLine | LineLimit, Decimal, str]],
    *,
    source: str,
    actor: User | None,
) -> list[int]:
    """Give each locked line its new limit with a change recording why (the lines whose limit
    differs), in two statements however many lines. The changes' ids."""
    now = timezone.now()
    lines = [(line, new, reason) for line, new, reason in wanted if line.limit != new]
    changed = rows_insert(
        CreditLimitChange,
        {
            "credit_line_id": [line.pk for line, _new, _reason in lines],
            "old_limit": [line.limit for line, _new, _reason in lines],
            "new_limit": [new for _line, new, _reason in lines],
            "reason": [reason for _line, _new, reason in lines],
            "source": source,
            "actor_id": actor.pk if actor else None,
            "created_at": now,
        },
        count=len(lines),
    )
    columns_update(
        CreditLine,
        {
            "pk": [line.pk for line, _new, _reason in lines],
            "limit": [new for _line, new, _reason in lines],
            "updated_at": now,
        },
        count=len(lines),
    )
    return changed


def credit_limits_apply_policy(
    *,
    patient: Patient,
    record: RepaymentRecord,
    score: int | None,
    actor: User | None = None,
) -> int:
    """Set both lines to what the credit policy decides for the patient's repayment record
    (billing's to tell) and score. How many limits changed."""
    return credit_limits_apply_policy_many(facts={patient.pk: (record, score)}, actor=actor)


def credit_limits_apply_policy_many(
    *, facts: Mapping[int, tuple[RepaymentRecord, int | None]], actor: User | None = None
) -> int:
    """Set the lines of many patients (patient id -> repayment record and score) to what the
    credit policy decides, in a constant number of statements. How many limits changed.

    A line whose latest change was a staff decision keeps it: staff overrides stand until
    staff change them again.
    """
    policy = CreditPolicy.current().params()
    decide = cache(partial(decide_limits, policy))  # many share a record and score
    wanted: dict[str, list[tuple[CreditLine, Decimal, str]]] = defaultdict(list)
    with transaction.atomic(), site_language():  # the decisions' reasons are recorded
        # Locked before the staff-override check, so an officer's change made meanwhile wins.
        lines = credit_line_limits_lock_many(patient_ids=facts)
        latest_sources = dict(
            CreditLimitChange.objects.filter(credit_line__patient_id__in_array=list(facts))
            .order_by("credit_line_id", "-created_at", "-pk")
            .distinct("credit_line_id")
            .values_list("credit_line_id", "source")
        )
        for line in lines:
            if latest_sources.get(line.pk) == LimitChangeSource.STAFF:
                continue
            decision = decide(*facts[line.patient_id])
            source = LimitChangeSource.SCORE if decision.score_applied else LimitChangeSource.POLICY
            wanted[source].append(
                (line, decision.limits[line.pool], decision.reason_text(line.pool))
            )
        return sum(
            len(_limits_set(lines_wanted, source=source, actor=actor))
            for source, lines_wanted in wanted.items()
        )


def api_key_create(
    *, institution: Institution, name: str, actor: User | None = None, key: str | None = None
) -> tuple[InstitutionApiKey, str]:
    """A new key for an institution's HIS. The key is returned once and never stored.

    ``key`` is for the demo only, whose keys are derived from SECRET_KEY so that seeding
    twice prints the same ones.
    """
    key = key or f"{secrets.token_hex(4)}.{secrets.token_urlsafe(32)}"
    prefix = key.partition(".")[0]
    api_key = InstitutionApiKey.objects.create(
        institution=institution,
        name=name,
        prefix=prefix,
        key_hash=InstitutionApiKey.hash_key(key),
        created_by=actor,
    )
    return api_key, key


def api_key_revoke(*, api_key: InstitutionApiKey) -> InstitutionApiKey:
    InstitutionApiKey.objects.filter(pk=api_key.pk, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    api_key_forget(prefix=api_key.prefix)
    api_key.refresh_from_db()
    return api_key


# --- Staff two-factor sign-in (accounts/two_factor.py) ----------------------------------


def _totp_now(device: TOTPDevice) -> TOTP:
    return TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)


def _wrong_code() -> DomainError:
    return DomainError(
        "two_factor_code_wrong",
        _("This code is wrong or has expired: enter the code the app shows now."),
    )


def authenticator_enrol(*, user: User, key: str, code: str) -> TOTPDevice:
    """Make ``key`` the user's authenticator if ``code`` is a current code of it, replacing
    any earlier one (a new phone). Raises ``DomainError`` for a wrong code."""
    device = TOTPDevice(user=user, name="Authenticator app", key=key, confirmed=True)
    totp = _totp_now(device)
    if not (code.isdigit() and totp.verify(int(code), tolerance=device.tolerance)):
        raise _wrong_code()
    device.drift = totp.drift
    device.last_t = totp.t()  # so this code cannot also sign in
    device.full_clean()
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        device.save()
    return device


def authenticator_sign_in(*, user: User, code: str) -> TOTPDevice | None:
    """The user's authenticator that accepts ``code`` now, or ``None`` if they have none (the
    password was enough). Raises ``DomainError`` for a missing, wrong or throttled code.

    A wrong code counts against the authenticator's throttling (django-otp): it refuses codes
    for 1, 2, 4, ... seconds after each consecutive wrong one.
    """
    with transaction.atomic():  # the throttling counts are written; the rows stay locked
        devices = list(TOTPDevice.objects.devices_for_user(user).select_for_update().order_by("pk"))
        if not devices:
            return None
        waits = []
        for device in devices:
            allowed, details = device.verify_is_allowed()
            if not allowed:
                waits.append(details.get("locked_until", timezone.now()) - timezone.now())
            elif code and device.verify_token(code):
                return device
    # Raised out here: inside, the exception would roll the wrong code's count back.
    if not code:
        raise DomainError(
            "two_factor_code_required", _("Enter the code your authenticator app shows.")
        )
    if len(waits) == len(devices):
        seconds = max(1, math.ceil(max(waits).total_seconds()))
        raise DomainError(
            "two_factor_throttled",
            ngettext(
                "Too many wrong codes: wait %(seconds)d second, then enter a new code.",
                "Too many wrong codes: wait %(seconds)d seconds, then enter a new code.",
                seconds,
            )
            % {"seconds": seconds},
        )
    raise _wrong_code()
