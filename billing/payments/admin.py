"""Bills, payments, refunds and invoices in the admin: read-only records, changed by the
actions and screens that call the payment services (window payments, refunds paid out,
invoices printed).
"""

from django.contrib import admin
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdminMixin
from billing.einvoices import admin as einvoices_admin
from billing.models import (
    Bill,
    Invoice,
    Payment,
    Refund,
    RefundStatus,
    StrongCheckAttempt,
)
from billing.payments import window_admin
from billing.payments.refunds import refunds_query_unknown
from billing.payments.services import invoice_mark_printed
from billing.reports_admin import reports_view


@admin.register(Bill)
class BillAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Bills; window staff take a payment at the window from a bill's page."""

    list_display = [
        "id",
        "patient",
        "institution",
        "pool",
        "interim",
        "status",
        "self_pay",
        "paid_amount",
        "due_at",
    ]
    list_filter = ["status", "pool", "interim", "institution"]
    search_fields = ["patient__citizen_card", "patient__name", "visit__his_visit_id"]
    list_select_related = ["patient", "institution"]
    date_hierarchy = "closed_at"
    change_form_template = "admin/billing/bill_change_form.html"

    def get_urls(self):
        return [
            path(
                "reports/",
                self.admin_site.admin_view(lambda request: reports_view(request, self)),
                name="billing_reports",
            ),
            path(
                "<int:object_id>/window-payment/",
                self.admin_site.admin_view(
                    lambda request, object_id: window_admin.window_payment_view(
                        request, self, object_id
                    )
                ),
                name="billing_bill_window_payment",
            ),
            *super().get_urls(),
        ]


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

    def get_urls(self):
        return [
            path(
                "close-till/",
                self.admin_site.admin_view(
                    lambda request: window_admin.close_till_view(request, self)
                ),
                name="billing_payment_close_till",
            ),
            *super().get_urls(),
        ]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Refunds; those "at the window" are the window refund queue, paid out from here. Those
    of unknown outcome wait for their channel to say whether it made them: finance can ask
    it again now rather than wait for the daily query."""

    list_display = [
        "created_at",
        "out_refund_no",
        "patient",
        "amount",
        "status",
        "reason",
        "last_error",
        "queried_at",
        "pay_out",
    ]
    list_filter = ["status", "payment__channel"]
    search_fields = ["out_refund_no", "payment__out_trade_no", "payment__bill__patient__name"]
    list_select_related = ["payment__bill__patient"]
    date_hierarchy = "created_at"
    actions = ["query_channel"]

    def has_query_permission(self, request) -> bool:
        return request.user.has_perm("billing.query_refund")

    @admin.action(
        description=_("Ask the channel again about refunds of unknown outcome"),
        permissions=["query"],
    )
    def query_channel(self, request, queryset):
        ended = refunds_query_unknown(refund_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            _(
                "Asked the channel about %(asked)s refund(s) of unknown outcome: %(refunded)s "
                "refunded, %(at_window)s to the window, %(unknown)s still unknown."
            )
            % {
                "asked": sum(ended.values()),
                "refunded": ended.get(RefundStatus.SUCCEEDED, 0),
                "at_window": ended.get(RefundStatus.AT_WINDOW, 0),
                "unknown": ended.get(RefundStatus.UNKNOWN, 0),
            },
        )

    @admin.display(description=_("patient"))
    def patient(self, refund):
        return refund.payment.bill.patient.name

    @admin.display(description="")
    def pay_out(self, refund):
        if refund.status != RefundStatus.AT_WINDOW:
            return ""
        url = reverse("admin:billing_refund_pay_out", args=[refund.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Pay out"))

    def get_urls(self):
        return [
            path(
                "<int:object_id>/pay-out/",
                self.admin_site.admin_view(
                    lambda request, object_id: window_admin.pay_out_view(request, self, object_id)
                ),
                name="billing_refund_pay_out",
            ),
            *super().get_urls(),
        ]


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Invoices by their YD number: window staff find one and print its e-invoice."""

    list_display = [
        "number",
        "patient",
        "bill",
        "issued_at",
        "einvoice_status",
        "printed_at",
        "refunded_amount",
    ]
    search_fields = ["number", "bill__patient__citizen_card"]
    actions = ["mark_printed"]
    change_form_template = "admin/billing/invoice_change_form.html"

    list_select_related = ["bill__patient"]
    readonly_fields = ["number", "patient", "bill", "issued_at", "printed_at", "printed_by"]
    fields = [*readonly_fields, "refunded_amount"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("einvoices")

    @admin.display(description=_("patient"))
    def patient(self, invoice):
        return invoice.bill.patient.name

    @admin.display(description=_("e-invoice"))
    def einvoice_status(self, invoice):
        return invoice.einvoice.get_status_display() if invoice.einvoice else "-"

    def get_urls(self):
        return [
            path(
                "<int:object_id>/print/",
                self.admin_site.admin_view(einvoices_admin.print_view),
                name="billing_invoice_print",
            ),
            *super().get_urls(),
        ]

    def has_print_permission(self, request) -> bool:
        return request.user.has_perm("billing.print_invoice")

    @admin.action(description=_("Mark the paper invoice printed"), permissions=["print"])
    def mark_printed(self, request, queryset):
        for invoice in queryset:
            invoice_mark_printed(invoice=invoice, actor=request.user)
        self.message_user(request, _("Marked printed."))


@admin.register(StrongCheckAttempt)
class StrongCheckAttemptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every answer to a large bill's stronger check, right or wrong (the audit trail)."""

    list_display = ["created_at", "link", "passed", "realname", "client_ip"]
    list_filter = ["passed", "realname"]
    list_select_related = ["link__bill"]
    date_hierarchy = "created_at"
