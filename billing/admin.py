"""Billing records in the admin: read-only; they change only through the HIS API services."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdminMixin
from billing.models import Bill, Charge, CreditEntry, Invoice, Payment, Refund, Visit


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


@admin.register(Bill)
class BillAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["pk", "patient", "institution", "pool", "status", "self_pay", "due_at"]
    list_filter = ["status", "pool", "institution"]
    search_fields = ["patient__citizen_card", "patient__name", "visit__his_visit_id"]
    list_select_related = ["patient", "institution"]
    date_hierarchy = "closed_at"


@admin.register(CreditEntry)
class CreditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["pk", "created_at", "credit_line", "kind", "amount", "actor"]
    list_filter = ["kind"]
    search_fields = ["credit_line__patient__citizen_card"]
    list_select_related = ["credit_line__patient"]


class RefundInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Refund
    fields = ["out_refund_no", "amount", "status", "reason", "actor", "created_at", "last_error"]
    readonly_fields = fields
    extra = 0


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Payments by channel; a duplicate (a bill paid twice) is refunded automatically and
    stays flagged here for finance."""

    list_display = ["created_at", "bill", "channel", "amount", "status", "duplicate"]
    list_filter = ["status", "channel", "duplicate"]
    search_fields = ["out_trade_no", "gateway_trade_no", "bill__patient__citizen_card"]
    list_select_related = ["bill"]
    inlines = [RefundInline]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "out_refund_no", "payment", "amount", "status", "reason"]
    list_filter = ["status", "payment__channel"]
    search_fields = ["out_refund_no", "payment__out_trade_no", "payment__bill__patient__name"]
    list_select_related = ["payment"]
    date_hierarchy = "created_at"


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["number", "bill", "issued_at"]
    search_fields = ["number", "bill__patient__citizen_card"]
