"""Overdue bills worked by collection staff: cases, their history, promises to pay and
payment plans.
"""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import FSMField, transition

from accounts.models import MONEY, AppendOnlyModel, Patient
from billing.models.bills import Bill


class CaseStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("case status", "Open")
    CLOSED = "closed", pgettext_lazy("case status", "Closed")


class CollectionCase(models.Model):
    """A patient with bills overdue long enough for staff to work. One open case per patient;
    opened and closed by the overdue sweep and by payments. ``overdue_amount``,
    ``oldest_due_at`` and ``priority`` are refreshed from the bills."""

    patient = models.ForeignKey(
        Patient,
        on_delete=models.PROTECT,
        related_name="collection_cases",
        verbose_name=_("patient"),
    )
    status = FSMField(_("status"), default=CaseStatus.OPEN, choices=CaseStatus.choices)
    assigned_to = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="collection_cases",
        verbose_name=_("agent"),
    )
    escalated = models.BooleanField(_("escalated"), default=False)
    disputed = models.BooleanField(
        _("disputed"), default=False, help_text=_("Reminders are paused while disputed.")
    )
    overdue_amount = models.DecimalField(_("overdue"), default=Decimal("0.00"), **MONEY)
    oldest_due_at = models.DateTimeField(_("oldest due"), null=True, blank=True)
    priority = models.IntegerField(_("priority"), default=0)
    # A broken promise puts the case on top from the day after; the next action clears it.
    on_top_since = models.DateField(_("on top since"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        ordering = ["-priority", "pk"]
        verbose_name = _("collection case")
        verbose_name_plural = _("collection cases")
        permissions = [("work_collectioncase", "Can work collection cases")]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status="open"),
                name="collection_case_one_open_per_patient",
            )
        ]
        indexes = [models.Index(fields=["status", "-priority"])]

    def __str__(self) -> str:
        return _("Case %(number)s: %(patient)s") % {"number": self.pk, "patient": self.patient}

    @transition(field=status, source=CaseStatus.OPEN, target=CaseStatus.CLOSED)
    def close(self) -> None:
        pass


class CaseEventKind(models.TextChoices):
    OPENED = "opened", _("Opened")
    ASSIGNED = "assigned", _("Assigned")
    CONTACT = "contact", _("Contact")
    LINK_RESENT = "link_resent", _("Payment link resent")
    PROMISE = "promise", _("Promise to pay")
    PROMISE_KEPT = "promise_kept", _("Promise kept")
    PROMISE_BROKEN = "promise_broken", _("Promise broken")
    PLAN = "plan", _("Payment plan")
    ESCALATED = "escalated", _("Escalated")
    DISPUTED = "disputed", _("Disputed")
    DISPUTE_RESOLVED = "dispute_resolved", _("Dispute resolved")
    WRITTEN_OFF = "written_off", _("Written off")
    PAYMENT = "payment", _("Payment received")
    CLOSED = "closed", pgettext_lazy("case event", "Closed")


class ContactChannel(models.TextChoices):
    CALL = "call", _("Phone call")
    SMS = "sms", _("SMS")
    VISIT = "visit", pgettext_lazy("contact channel", "Visit")


class CaseEvent(AppendOnlyModel):
    """The case's history: every action, by whom, when."""

    case = models.ForeignKey(
        CollectionCase,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("collection case"),
    )
    kind = models.CharField(_("what"), max_length=20, choices=CaseEventKind.choices)
    actor = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    channel = models.CharField(
        _("channel"), max_length=10, choices=ContactChannel.choices, blank=True
    )
    outcome = models.CharField(_("outcome"), max_length=100, blank=True)
    amount = models.DecimalField(_("amount"), null=True, blank=True, **MONEY)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("case event")
        verbose_name_plural = _("case history")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.created_at:%Y-%m-%d %H:%M})"


class PromiseStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("promise status", "Pending")
    KEPT = "kept", _("Kept")
    BROKEN = "broken", _("Broken")


class PromiseToPay(models.Model):
    """ "I will pay <amount> by <date>": kept when what is owed has fallen by the amount by
    the end of that day, broken otherwise."""

    case = models.ForeignKey(
        CollectionCase,
        on_delete=models.PROTECT,
        related_name="promises",
        verbose_name=_("collection case"),
    )
    promised_date = models.DateField(_("pay by"))
    amount = models.DecimalField(_("amount"), **MONEY)
    owed_when_made = models.DecimalField(**MONEY, verbose_name=_("owed when made"))
    status = FSMField(_("status"), default=PromiseStatus.PENDING, choices=PromiseStatus.choices)
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved at"))

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("promise to pay")
        verbose_name_plural = _("promises to pay")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_gt_0")
        ]
        indexes = [models.Index(fields=["status", "promised_date"])]

    def __str__(self) -> str:
        return _("%(amount)s by %(date)s") % {"amount": self.amount, "date": self.promised_date}

    @transition(field=status, source=PromiseStatus.PENDING, target=PromiseStatus.KEPT)
    def keep(self) -> None:
        pass

    @transition(field=status, source=PromiseStatus.PENDING, target=PromiseStatus.BROKEN)
    def break_(self) -> None:
        pass


class PaymentPlan(models.Model):
    """An overdue bill split into instalments, each with its own link and reminders."""

    bill = models.OneToOneField(
        Bill, on_delete=models.PROTECT, related_name="plan", verbose_name=_("bill")
    )
    case = models.ForeignKey(
        CollectionCase,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="plans",
        verbose_name=_("collection case"),
    )
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("payment plan")
        verbose_name_plural = _("payment plans")

    def __str__(self) -> str:
        return _("Payment plan of bill %(number)s") % {"number": self.bill_id}


class Instalment(models.Model):
    plan = models.ForeignKey(
        PaymentPlan,
        on_delete=models.PROTECT,
        related_name="instalments",
        verbose_name=_("payment plan"),
    )
    number = models.PositiveSmallIntegerField(_("number"))
    amount = models.DecimalField(_("amount"), **MONEY)
    due_at = models.DateTimeField(_("due"))
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)

    class Meta:
        ordering = ["plan", "number"]
        verbose_name = _("instalment")
        verbose_name_plural = _("instalments")
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="instalment_number_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="instalment_amount_gt_0"),
        ]
        indexes = [models.Index(fields=["paid_at", "due_at"])]

    def __str__(self) -> str:
        return f"{self.number}: {self.amount}"
