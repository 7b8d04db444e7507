"""Alerts for finance: a condition worth a person's attention (a channel's differences,
failures, a statement that will not download, SMS not getting through), raised once while
it lasts, acknowledged by someone, cleared when the condition is gone."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AlertSeverity(models.TextChoices):
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


class AlertRule(models.TextChoices):
    RECONCILIATION_DIFFERENCES = "reconciliation_differences", _("Reconciliation differences")
    STATEMENT_DOWNLOAD = "statement_download", _("Statement not downloaded")
    PAYMENT_FAILURES = "payment_failures", _("Payment failures")
    SMS_FAILURES = "sms_failures", _("SMS failures")


class Alert(models.Model):
    """One raising of a condition. ``key`` names the condition (a rule and what it is about,
    e.g. ``payment_failures:alipay``): while an alert of a key is not cleared, the condition
    does not raise another."""

    rule = models.CharField(_("rule"), max_length=40, choices=AlertRule.choices)
    key = models.CharField(_("condition"), max_length=100)
    severity = models.CharField(_("severity"), max_length=10, choices=AlertSeverity.choices)
    message = models.TextField(_("what"))
    raised_at = models.DateTimeField(_("raised"), auto_now_add=True, db_index=True)
    acknowledged_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    cleared_at = models.DateTimeField(_("cleared"), null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-pk"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=Q(cleared_at=None), name="alert_one_active_per_key"
            )
        ]
        permissions = [("acknowledge_alert", "Can acknowledge alerts")]

    def __str__(self) -> str:
        return self.message
