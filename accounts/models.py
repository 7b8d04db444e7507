"""Accounts: institutions, staff, patients, their one credit agreement and their credit lines.

Design overview
---------------
* A ``Patient`` is a resident known by a **citizen card number** (unique; the key window staff
  and every HIS use) and one identity document. Identity numbers are validated here and shown
  masked everywhere except to staff holding ``accounts.view_identity_number``, and stored
  encrypted with a keyed hash for exact search (``accounts.encryption``).
* A patient signs **one** ``CreditAgreement``, valid at every institution, never expiring.
  Its status is a django-fsm state machine; every transition writes an ``AgreementEvent``
  (from, to, who, why, when). Transitions are run by ``accounts.services`` only.
* A patient has one ``CreditLine`` per pool (outpatient, inpatient). ``limit`` changes only
  through ``services.credit_limit_change``, which appends a ``CreditLimitChange``; the limit
  is always the ``new_limit`` of the line's latest change. ``used`` (held by open visits plus
  unpaid bills) is a cache that billing maintains and tests recompute from billing records.
* ``CreditPolicy`` holds the numbers of ``accounts.policy``; credit officers edit it in the
  admin, with history.
"""

import hashlib
from decimal import Decimal

import phonenumbers
from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.indexes import BrinIndex
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import FSMField, transition
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords

from accounts.encryption import EncryptedCharField, IdentityHashField, identity_number_hash
from accounts.identity import (
    IdentityDocumentType,
    Sex,
    normalize_identity_number,
    parse_resident_id,
    validate_identity_number,
)
from accounts.masking import mask_identity_number, mask_phone
from accounts.policy import SCORE_MAX, SCORE_MIN, PolicyParams

MONEY = {"max_digits": 12, "decimal_places": 2}
_MOBILE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


def is_mobile_number(number: phonenumbers.PhoneNumber) -> bool:
    return phonenumbers.number_type(number) in _MOBILE_TYPES


class AppendOnlyModel(models.Model):
    """A record: written once, never updated or deleted (a mistake is undone by a new row)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError(f"{type(self).__name__} rows are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(f"{type(self).__name__} rows are append-only.")


class InstitutionKind(models.TextChoices):
    HOSPITAL = "hospital", _("Hospital")
    COMMUNITY_CENTRE = "community_centre", _("Community health centre")
    CLINIC = "clinic", _("Village clinic")


class Institution(models.Model):
    """A participating hospital, community health centre or clinic of the region."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=32, choices=InstitutionKind.choices)
    is_active = models.BooleanField(_("participating"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("institution")
        verbose_name_plural = _("institutions")

    def __str__(self) -> str:
        return self.name


class InstitutionApiKey(models.Model):
    """A credential of an institution's HIS for the REST API.

    Only a SHA-256 of the key is stored (keys are 256 random bits, so a slow hash adds
    nothing); the key itself is shown once, when it is created. ``prefix`` finds the row.
    """

    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="api_keys",
        verbose_name=_("institution"),
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("e.g. the HIS it is for"))
    prefix = models.CharField(_("prefix"), max_length=16, unique=True)
    key_hash = models.CharField(max_length=64, verbose_name=_("key hash"))
    created_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["institution", "-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.institution.code}: {self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()


class User(AbstractUser):
    """A staff member. ``institution`` is where they work: where the agreements they sign are
    recorded as signed."""

    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        verbose_name=_("institution"),
    )


class Patient(models.Model):
    """A resident who can sign the credit agreement.

    Invariants: ``citizen_card`` is unique; ``(id_type, id_number)`` is unique and the number
    is valid for its type; for resident IDs ``birth_date`` and ``sex`` are derived from the
    number and cannot disagree with it; ``phone`` is stored E.164.
    """

    name = models.CharField(_("real name"), max_length=100)
    id_type = models.CharField(
        _("identity document"),
        max_length=32,
        choices=IdentityDocumentType.choices,
        default=IdentityDocumentType.RESIDENT_ID,
    )
    # Encrypted at rest; equality through the keyed hash (accounts.encryption).
    id_number = EncryptedCharField(_("identity number"), max_length=32)
    id_number_hash = IdentityHashField(verbose_name=_("identity number hash"))
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    sex = models.CharField(_("sex"), max_length=8, choices=Sex.choices, blank=True)
    citizen_card = models.CharField(
        _("citizen card number"),
        max_length=32,
        unique=True,
        error_messages={"unique": _("This citizen card is already signed up.")},
    )
    phone = PhoneNumberField(_("mobile phone"))
    resident_of_region = models.BooleanField(
        _("resident of the region"),
        default=True,
        help_text=_("People from outside the region join through their credit score."),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        constraints = [
            models.UniqueConstraint(
                fields=["id_type", "id_number_hash"],
                name="patient_identity_unique",
                violation_error_message=_("A patient with this identity document already exists."),
            ),
        ]
        indexes = [models.Index(fields=["phone"])]
        permissions = [("view_identity_number", "Can see full identity numbers")]

    def __str__(self) -> str:
        return f"{self.name} ({self.citizen_card})"

    def clean(self) -> None:
        self.id_number = normalize_identity_number(self.id_number)
        self.id_number_hash = identity_number_hash(self.id_number)  # for the unique check
        self.citizen_card = (self.citizen_card or "").strip().upper()
        try:
            validate_identity_number(self.id_type, self.id_number)
        except ValidationError as error:
            raise ValidationError({"id_number": error}) from None
        if self.id_type == IdentityDocumentType.RESIDENT_ID:
            facts = parse_resident_id(self.id_number)
            self.birth_date, self.sex = facts.birth_date, facts.sex
        if self.phone and self.phone.is_valid() and not is_mobile_number(self.phone):
            raise ValidationError(
                {"phone": _("Please give a mobile number: payment links come by SMS.")}
            )

    @property
    def masked_id_number(self) -> str:
        return mask_identity_number(self.id_number)

    @property
    def masked_phone(self) -> str:
        return mask_phone(str(self.phone))


class FamilyPayer(models.Model):
    """A family member's phone that pays for the patient: it gets copies of the bill SMS and
    may receive the code of the patient's payment links. Added by the patient on /me/ (a
    code to both phones) or at a window with the patient present (``added_by``); removed,
    not deleted (``removed_at``), so who could pay when stays known."""

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="family_payers", verbose_name=_("patient")
    )
    phone = PhoneNumberField(_("family member's phone"))
    added_at = models.DateTimeField(_("added"), auto_now_add=True)
    added_by = models.ForeignKey(
        "User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("added by"),
        help_text=_("Empty: the patient, on their own page."),
    )
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)

    class Meta:
        ordering = ["added_at"]
        verbose_name = _("family payer")
        verbose_name_plural = _("family payers")
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "phone"],
                condition=models.Q(removed_at=None),
                name="family_payer_once",
            )
        ]

    def __str__(self) -> str:
        return mask_phone(str(self.phone))

    @property
    def masked_phone(self) -> str:
        return mask_phone(str(self.phone))


class OnlineSignature(AppendOnlyModel):
    """How an agreement was signed online: the terms shown (their version and a hash of
    their text), when, from where (address, browser), and the phone proven by a code."""

    agreement = models.OneToOneField(
        "CreditAgreement",
        on_delete=models.PROTECT,
        related_name="online_signature",
        verbose_name=_("agreement"),
    )
    terms_version = models.CharField(_("terms version"), max_length=32)
    terms_sha256 = models.CharField(_("hash of the terms' text"), max_length=64)
    phone = PhoneNumberField(_("verified phone"))
    client_ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    signed_at = models.DateTimeField(_("signed on"), auto_now_add=True)

    class Meta:
        verbose_name = _("online signature")
        verbose_name_plural = _("online signatures")

    def __str__(self) -> str:
        return f"{self.agreement_id} {self.signed_at:%Y-%m-%d %H:%M}"


class AgreementStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("agreement status", "Pending")  # not signed: no credit
    ACTIVE = "active", _("Active")  # signed: new visits get credit
    SUSPENDED = "suspended", _("Suspended")  # no new visits (overdue bill or staff decision)
    TERMINATED = "terminated", _("Terminated")  # ended for good, only with a zero balance


class SigningChannel(models.TextChoices):
    WINDOW = "window", _("At a window")
    ONLINE = "online", _("Online")


class CreditAgreement(models.Model):
    """The patient's one credit agreement ("一次签约、全区同行、终身有效").

    Valid at every institution; ``institution`` is only where it was signed. It never expires.
    ``terminate`` needs a zero balance on every credit line.
    """

    patient = models.OneToOneField(
        Patient, on_delete=models.PROTECT, related_name="agreement", verbose_name=_("patient")
    )
    status = FSMField(_("status"), default=AgreementStatus.PENDING, choices=AgreementStatus.choices)
    channel = models.CharField(_("signed"), max_length=16, choices=SigningChannel.choices)
    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="agreements",
        verbose_name=_("signed at"),
    )
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("signed by"),
    )
    signed_at = models.DateTimeField(_("signed on"), null=True, blank=True)
    terms_version = models.CharField(_("terms version"), max_length=32)
    suspended_for_overdue = models.BooleanField(
        _("suspended for overdue bills"),
        default=False,
        help_text=_("Suspended automatically; reactivated automatically once they are paid."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("credit agreement")
        verbose_name_plural = _("credit agreements")
        indexes = [
            # The sign-ups report's months (rows come about in time order: see billing.Bill).
            BrinIndex(fields=["signed_at"], name="agreement_signed_brin"),
        ]
        permissions = [
            ("sign_agreement", "Can sign patients up"),
            ("suspend_agreement", "Can suspend and reactivate agreements"),
            ("terminate_agreement", "Can terminate agreements"),
        ]

    def __str__(self) -> str:
        return f"{self.patient.name}: {self.get_status_display()}"

    def has_zero_balance(self) -> bool:
        return not self.patient.credit_lines.filter(used__gt=0).exists()

    @transition(field=status, source=AgreementStatus.PENDING, target=AgreementStatus.ACTIVE)
    def sign(self) -> None:
        pass

    @transition(field=status, source=AgreementStatus.ACTIVE, target=AgreementStatus.SUSPENDED)
    def suspend(self) -> None:
        pass

    @transition(field=status, source=AgreementStatus.SUSPENDED, target=AgreementStatus.ACTIVE)
    def reactivate(self) -> None:
        pass

    @transition(
        field=status,
        source=[AgreementStatus.PENDING, AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED],
        target=AgreementStatus.TERMINATED,
        conditions=[has_zero_balance],
    )
    def terminate(self) -> None:
        pass


class AgreementTransition(models.TextChoices):
    SIGN = "sign", pgettext_lazy("agreement action", "Sign")
    SUSPEND = "suspend", pgettext_lazy("agreement action", "Suspend")
    REACTIVATE = "reactivate", pgettext_lazy("agreement action", "Reactivate")
    TERMINATE = "terminate", pgettext_lazy("agreement action", "Terminate")


class AgreementEvent(AppendOnlyModel):
    """One transition of an agreement: who moved it from what to what, and why."""

    agreement = models.ForeignKey(
        CreditAgreement,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("agreement"),
    )
    transition = models.CharField(
        max_length=32, choices=AgreementTransition.choices, verbose_name=_("action")
    )
    from_status = models.CharField(
        max_length=16, choices=AgreementStatus.choices, verbose_name=_("from status")
    )
    to_status = models.CharField(
        max_length=16, choices=AgreementStatus.choices, verbose_name=_("to status")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff member"),
    )
    reason = models.TextField(verbose_name=_("reason"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("time"))

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("agreement event")
        verbose_name_plural = _("agreement events")

    def __str__(self) -> str:
        return (
            f"{self.get_transition_display()}: "
            f"{self.get_from_status_display()} → {self.get_to_status_display()}"
        )


class CreditPool(models.TextChoices):
    OUTPATIENT = "outpatient", _("Outpatient")
    INPATIENT = "inpatient", _("Inpatient")


class CreditLine(models.Model):
    """The credit of one pool of one patient. Available = ``limit`` - ``used``."""

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="credit_lines", verbose_name=_("patient")
    )
    pool = models.CharField(_("pool"), max_length=16, choices=CreditPool.choices)
    limit = models.DecimalField(_("limit"), **MONEY)
    used = models.DecimalField(
        _("in use"),
        default=Decimal("0.00"),
        help_text=_("Held by open visits plus unpaid bills."),
        **MONEY,
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        ordering = ["patient", "-pool"]  # outpatient first: the one used every day
        verbose_name = _("credit line")
        verbose_name_plural = _("credit lines")
        constraints = [
            models.UniqueConstraint(fields=["patient", "pool"], name="credit_line_one_per_pool"),
            models.CheckConstraint(
                condition=models.Q(limit__gte=0), name="credit_line_limit_gte_0"
            ),
            models.CheckConstraint(condition=models.Q(used__gte=0), name="credit_line_used_gte_0"),
        ]
        permissions = [("change_credit_limit", "Can change credit limits")]

    def __str__(self) -> str:
        return f"{self.patient.name}: {self.get_pool_display()}"

    @property
    def available(self) -> Decimal:
        return self.limit - self.used


class LimitChangeSource(models.TextChoices):
    POLICY = "policy", _("Credit policy")
    SCORE = "score", _("Credit score")
    STAFF = "staff", _("Staff decision")


class CreditLimitChange(AppendOnlyModel):
    """Every change of a credit line's limit, with its reason. The line's limit is the
    ``new_limit`` of its latest change."""

    credit_line = models.ForeignKey(
        CreditLine,
        on_delete=models.PROTECT,
        related_name="limit_changes",
        verbose_name=_("credit line"),
    )
    old_limit = models.DecimalField(**MONEY, verbose_name=_("old limit"))
    new_limit = models.DecimalField(**MONEY, verbose_name=_("new limit"))
    reason = models.TextField(verbose_name=_("reason"))
    source = models.CharField(
        max_length=16, choices=LimitChangeSource.choices, verbose_name=_("source")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff member"),
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("time"))

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("credit limit change")
        verbose_name_plural = _("credit limit changes")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(old_limit__gte=0, new_limit__gte=0),
                name="limit_change_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.old_limit} → {self.new_limit} ({self.get_source_display()})"


class CreditScore(AppendOnlyModel):
    """A credit score as a provider gave it (CSV import or HTTP), kept for the record.

    Keyed by citizen card rather than patient: scores can be imported before a person signs.
    """

    citizen_card = models.CharField(
        max_length=32, db_index=True, verbose_name=_("citizen card number")
    )
    score = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(SCORE_MIN), MaxValueValidator(SCORE_MAX)],
        verbose_name=_("score"),
    )
    source = models.CharField(max_length=16, verbose_name=_("source"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("time"))

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("credit score")
        verbose_name_plural = _("credit scores")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__gte=SCORE_MIN, score__lte=SCORE_MAX),
                name="credit_score_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.citizen_card}: {self.score} ({self.source})"


def validate_score_bands(value: object) -> None:
    message = _(
        'Score bands are a list like [[650, "1.20"], [750, "1.50"]]: a score and a multiplier.'
    )
    if not isinstance(value, list):
        raise ValidationError(message)
    for band in value:
        if not (isinstance(band, list) and len(band) == 2 and isinstance(band[0], int)):
            raise ValidationError(message)
        try:
            multiplier = Decimal(str(band[1]))
        except ArithmeticError:
            raise ValidationError(message) from None
        if not multiplier.is_finite() or not (0 <= multiplier <= 10):
            raise ValidationError(message)
        if not SCORE_MIN <= band[0] <= SCORE_MAX:
            raise ValidationError(message)


def default_score_bands() -> list:
    return [[650, "1.20"], [750, "1.50"], [850, "2.00"]]


class CreditPolicy(models.Model):
    """The numbers of the credit policy (see ``accounts.policy``). One row, edited by credit
    officers in the admin; every version is kept in its history."""

    outpatient_base = models.DecimalField(
        _("outpatient base limit"),
        default=Decimal("300.00"),
        validators=[MinValueValidator(0)],
        **MONEY,
    )
    inpatient_base = models.DecimalField(
        _("inpatient base limit"),
        default=Decimal("5000.00"),
        validators=[MinValueValidator(0)],
        **MONEY,
    )
    cap_multiplier = models.DecimalField(
        _("cap (x base)"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("2.00"),
        validators=[MinValueValidator(1)],
    )
    step_ratio = models.DecimalField(
        _("raise per step (x base)"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.10"),
        validators=[MinValueValidator(0)],
    )
    repayments_per_step = models.PositiveSmallIntegerField(
        _("on-time repayments per step"), default=3, validators=[MinValueValidator(1)]
    )
    late_cut_ratio = models.DecimalField(
        _("cut per late repayment (x base)"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.25"),
        validators=[MinValueValidator(0)],
    )
    floor_ratio = models.DecimalField(
        _("lowest limit after cuts (x base)"),
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.50"),
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    score_floor = models.PositiveSmallIntegerField(
        _("score floor"),
        default=550,
        validators=[MinValueValidator(SCORE_MIN), MaxValueValidator(SCORE_MAX)],
    )
    online_score_floor = models.PositiveSmallIntegerField(
        _("score to join online"),
        default=650,
        validators=[MinValueValidator(SCORE_MIN), MaxValueValidator(SCORE_MAX)],
        help_text=_("People from outside the region sign up online with at least this score."),
    )
    score_bands = models.JSONField(
        _("score bands"),
        default=default_score_bands,
        validators=[validate_score_bands],
        help_text=_('[[min score, multiplier], ...], e.g. [[650, "1.20"], [750, "1.50"]]'),
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("credit policy")
        verbose_name_plural = _("credit policy")

    def __str__(self) -> str:
        return str(_("Credit policy"))

    @classmethod
    def current(cls) -> "CreditPolicy":
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy

    def params(self) -> PolicyParams:
        return PolicyParams(
            base_limits={
                CreditPool.OUTPATIENT: self.outpatient_base,
                CreditPool.INPATIENT: self.inpatient_base,
            },
            cap_multiplier=self.cap_multiplier,
            step_ratio=self.step_ratio,
            repayments_per_step=self.repayments_per_step,
            late_cut_ratio=self.late_cut_ratio,
            floor_ratio=self.floor_ratio,
            score_floor=self.score_floor,
            online_score_floor=self.online_score_floor,
            score_bands=tuple((int(s), Decimal(str(m))) for s, m in self.score_bands),
        )
