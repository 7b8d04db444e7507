"""Each morning's reconciliation: what a payment channel's statement of a day says against
our books, stored as a run per channel and day with one difference row per mismatch, each
worked by finance until resolved (and every resolution kept as an event)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import FSMField, transition

from accounts.models import MONEY, AppendOnlyModel
from billing.models.payments import Payment, Refund


class RunStatus(models.TextChoices):
    BALANCED = "balanced", _("Balanced")
    DIFFERENCES = "differences", _("Differences to resolve")
    CLOSED = "closed", pgettext_lazy("reconciliation run status", "Closed")
    FAILED = "failed", _("Statement not downloaded")


class ReconciliationRun(models.Model):
    """One channel's statement of one day (China time) against the payments and refunds we
    recorded that day; or, for the window, one cashier's count of the till against what they
    recorded. Re-running the day updates it; what finance resolved stays."""

    channel = models.CharField(_("channel"), max_length=20)
    day = models.DateField(_("day"))
    # The window's runs: one per cashier and day, at the cashier's institution.
    cashier = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cashier"),
    )
    institution = models.ForeignKey(
        "accounts.Institution",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("institution"),
    )
    status = FSMField(_("status"), default=RunStatus.FAILED, choices=RunStatus.choices)
    channel_count = models.PositiveIntegerField(_("lines at the channel"), default=0)
    channel_total = models.DecimalField(_("net at the channel"), default=0, **MONEY)
    our_count = models.PositiveIntegerField(_("lines in our books"), default=0)
    our_total = models.DecimalField(_("net in our books"), default=0, **MONEY)
    attempts = models.PositiveIntegerField(_("download attempts"), default=0)
    error = models.CharField(_("last download error"), max_length=300, blank=True)
    started_at = models.DateTimeField(_("first run"), auto_now_add=True)
    checked_at = models.DateTimeField(_("last run"), null=True, blank=True)
    closed_at = models.DateTimeField(
        pgettext_lazy("reconciliation run", "closed"), null=True, blank=True
    )

    class Meta:
        ordering = ["-day", "channel"]
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "day", "cashier"],
                nulls_distinct=False,
                name="reconciliation_run_one_a_day",
            )
        ]
        permissions = [
            ("resolve_difference", "Can resolve reconciliation differences"),
            ("close_till", "Can close the till"),
        ]

    def __str__(self) -> str:
        from billing.payments.gateways import channel_name  # the gateways import models

        cashier = f" {self.cashier}" if self.cashier_id else ""
        return f"{channel_name(self.channel)}{cashier} {self.day}"

    # A run's state follows its differences: none ever, some open, all resolved.
    @transition(
        field=status, source=[RunStatus.FAILED, RunStatus.BALANCED], target=RunStatus.BALANCED
    )
    def balance(self) -> None:
        pass

    @transition(field=status, source="*", target=RunStatus.DIFFERENCES)
    def find_differences(self) -> None:
        pass

    @transition(
        field=status, source=[RunStatus.DIFFERENCES, RunStatus.CLOSED], target=RunStatus.CLOSED
    )
    def close(self) -> None:
        pass


class DifferenceKind(models.TextChoices):
    MISSING_HERE = "missing_here", _("Paid at the channel, not in our books")
    MISSING_AT_CHANNEL = "missing_at_channel", _("In our books, not at the channel")
    AMOUNT = "amount", _("Amounts differ")
    DUPLICATE = "duplicate", _("Duplicate at the channel")
    REFUND_MISSING_HERE = "refund_missing_here", _("Refunded at the channel, not in our books")
    REFUND_MISSING_AT_CHANNEL = (
        "refund_missing_at_channel",
        _("Refund in our books, not at the channel"),
    )
    COUNT = "count", _("The till's count is not what was recorded")


class Resolution(models.TextChoices):
    SETTLED = "settled", _("Settled from the statement")
    REFUNDED = "refunded", _("Refunded")
    WRITTEN_OFF = "written_off", _("Written off")
    TIMING = "timing", _("Accepted as timing")
    LINKED = "linked", _("Linked to a payment")
    CLEARED = "cleared", _("Cleared by a later run")


class DifferenceStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("difference status", "Open")
    RESOLVED = "resolved", _("Resolved")


class ReconciliationDifference(models.Model):
    """One mismatch of a run. ``key`` names it within its day (kind and order or refund
    number), so a re-run finds the same row and leaves a resolved one as it is."""

    run = models.ForeignKey(
        ReconciliationRun,
        on_delete=models.PROTECT,
        related_name="differences",
        verbose_name=_("reconciliation run"),
    )
    kind = models.CharField(_("kind"), max_length=30, choices=DifferenceKind.choices)
    key = models.CharField(_("key"), max_length=100)
    out_trade_no = models.CharField(_("our order number"), max_length=40, blank=True)
    out_refund_no = models.CharField(_("our refund number"), max_length=40, blank=True)
    gateway_trade_no = models.CharField(_("channel's trade number"), max_length=64, blank=True)
    channel_amount = models.DecimalField(_("amount at the channel"), null=True, blank=True, **MONEY)
    our_amount = models.DecimalField(_("amount in our books"), null=True, blank=True, **MONEY)
    at = models.DateTimeField(_("time at the channel"), null=True, blank=True)
    payment = models.ForeignKey(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("payment"),
    )
    refund = models.ForeignKey(
        Refund,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("refund"),
    )
    status = FSMField(_("status"), default=DifferenceStatus.OPEN, choices=DifferenceStatus.choices)
    resolution = models.CharField(
        _("resolution"), max_length=20, choices=Resolution.choices, blank=True
    )
    resolved_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    found_at = models.DateTimeField(_("found"), auto_now_add=True)

    class Meta:
        ordering = ["run", "pk"]
        verbose_name = _("reconciliation difference")
        verbose_name_plural = _("reconciliation differences")
        constraints = [
            models.UniqueConstraint(fields=["run", "key"], name="reconciliation_difference_key"),
            models.CheckConstraint(
                condition=Q(status="open", resolution="")
                | (Q(status="resolved") & ~Q(resolution="")),
                name="reconciliation_difference_resolved_with_resolution",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.out_refund_no or self.out_trade_no}"

    @transition(field=status, source=DifferenceStatus.OPEN, target=DifferenceStatus.RESOLVED)
    def resolve(self) -> None:
        pass


class DifferenceEvent(AppendOnlyModel):
    """How a difference was resolved: by whom, when, why, and what it did."""

    difference = models.ForeignKey(
        ReconciliationDifference,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("reconciliation difference"),
    )
    resolution = models.CharField(_("resolution"), max_length=20, choices=Resolution.choices)
    actor = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    reason = models.TextField(_("reason"))
    detail = models.CharField(_("what it did"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("difference event")
        verbose_name_plural = _("difference history")

    def __str__(self) -> str:
        return f"{self.difference}: {self.get_resolution_display()}"


class TillCount(models.Model):
    """What a cashier counted at the end of the day for one way of paying, beside what they
    recorded (window payments, less refunds they paid out that way)."""

    run = models.ForeignKey(
        ReconciliationRun,
        on_delete=models.PROTECT,
        related_name="till_counts",
        verbose_name=_("reconciliation run"),
    )
    method = models.CharField(_("paid by"), max_length=20)
    counted = models.DecimalField(_("counted"), **MONEY)
    recorded = models.DecimalField(_("recorded"), **MONEY)

    class Meta:
        ordering = ["run", "pk"]
        verbose_name = _("till count")
        verbose_name_plural = _("till counts")
        constraints = [
            models.UniqueConstraint(fields=["run", "method"], name="till_count_one_per_method")
        ]

    def __str__(self) -> str:
        return f"{self.run}: {self.method} {self.counted}"
