from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import MONEY


class FigureMeasure(models.TextChoices):
    # Balances at the day's end.
    OUTSTANDING = "outstanding", _("Credit outstanding")  # key: the credit pool
    OVERDUE = "overdue", _("Owed on overdue bills")  # key: the days-overdue bucket
    # Movements during the day.
    RECOVERED = "recovered", _("Paid after the due time")
    WRITTEN_OFF = "written_off", _("Written off")


class DailyFigure(models.Model):
    """One figure of an institution's books at the end of a day (China time), recorded each
    night from the credit entries (``billing.figures``). The reports draw months of
    balances from these few rows instead of summing years of entries on every view."""

    day = models.DateField(_("day"))
    institution = models.ForeignKey(
        "accounts.Institution",
        on_delete=models.PROTECT,
        related_name="daily_figures",
        verbose_name=_("institution"),
    )
    measure = models.CharField(_("measure"), max_length=16, choices=FigureMeasure.choices)
    key = models.CharField(_("pool or days overdue"), max_length=16, blank=True)
    bills = models.PositiveIntegerField(_("bills"), default=0)
    amount = models.DecimalField(_("amount"), **MONEY)
    recorded_at = models.DateTimeField(_("recorded"), auto_now=True)

    class Meta:
        ordering = ["day", "institution", "measure", "key"]
        verbose_name = _("daily figure")
        verbose_name_plural = _("daily figures")
        constraints = [
            models.UniqueConstraint(
                fields=["measure", "day", "institution", "key"], name="daily_figure_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.institution} {self.get_measure_display()} {self.key}"
