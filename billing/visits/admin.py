"""Visits in the admin: read-only; they change only through the HIS API services."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdminMixin
from billing.models import (
    Charge,
    DailyVisitCount,
    Visit,
)


class ChargeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Charge
    fields = [
        "his_line_id",
        "item_name",
        "category",
        "quantity",
        "unit_price",
        "amount",
        "self_pay_estimate",
        "voided",
        "created_at",
    ]
    readonly_fields = fields
    extra = 0

    @admin.display(description=_("voided"))
    def voided(self, charge):
        void = getattr(charge, "void", None)
        return f"{void.created_at:%Y-%m-%d %H:%M} {void.reason}" if void else ""


@admin.register(Visit)
class VisitAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["his_visit_id", "patient", "institution", "kind", "status", "total", "held"]
    list_filter = ["status", "kind", "institution"]
    search_fields = ["his_visit_id", "patient__citizen_card", "patient__name"]
    list_select_related = ["patient", "institution"]
    date_hierarchy = "started_at"
    inlines = [ChargeInline]


@admin.register(DailyVisitCount)
class DailyVisitCountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """All the visits of each day, as each institution's HIS reported them."""

    list_display = ["day", "institution", "outpatient", "inpatient", "reported_at"]
    list_filter = ["institution"]
    list_select_related = ["institution"]
    date_hierarchy = "day"
