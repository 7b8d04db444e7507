"""E-invoices in the admin. Finance sees every e-invoice's state (requested, issued, failed,
reversed), filters them and asks the platform again for one it refused, with a reason.
Window staff find a paper invoice by its YD number (the invoice list) and print its
e-invoice from there (``print_view``: the PDF, and the invoice marked printed)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import ModelAdmin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.admin import ReadOnlyAdminMixin
from accounts.admin_views import form_page, require
from billing.einvoices.documents import einvoice_pdf
from billing.einvoices.services import einvoice_retry
from billing.models import ChargeCategory, EInvoice, EInvoiceEvent, EInvoiceStatus, Invoice
from billing.payments.services import invoice_mark_printed
from creditcare.errors import DomainError


class EInvoiceEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = EInvoiceEvent
    fields = ["created_at", "kind", "actor", "note"]
    readonly_fields = fields
    extra = 0


@admin.register(EInvoice)
class EInvoiceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "business_number",
        "institution",
        "kind",
        "total",
        "status",
        "code_and_number",
        "last_error",
        "retry",
    ]
    list_filter = ["status", "red", "invoice__bill__institution", "provider"]
    search_fields = ["number", "invoice__number", "payer_name"]
    list_select_related = ["invoice__bill__institution"]
    date_hierarchy = "created_at"
    inlines = [EInvoiceEventInline]
    fields = [
        "invoice",
        "kind",
        "original",
        "refund",
        "provider",
        "status",
        "payer_name",
        "payer_id_masked",
        "items_shown",
        "total",
        "insurance_fund",
        "personal_account",
        "self_pay",
        "code",
        "number",
        "check_code",
        "issued_on",
        "attempts",
        "last_error",
        "next_attempt_at",
        "created_at",
        "issued_at",
    ]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("Invoice number"), ordering="invoice__number")
    def business_number(self, einvoice):
        return einvoice.invoice.number

    @admin.display(description=gettext_lazy("institution"))
    def institution(self, einvoice):
        return einvoice.invoice.bill.institution.name

    @admin.display(description=gettext_lazy("invoice number"), ordering="number")
    def code_and_number(self, einvoice):
        return f"{einvoice.code} {einvoice.number}" if einvoice.number else "-"

    @admin.display(description=gettext_lazy("kind"), ordering="red")
    def kind(self, einvoice):
        return _("Red-letter reversal") if einvoice.red else _("Invoice")

    @admin.display(description=gettext_lazy("items"))
    def items_shown(self, einvoice):
        return "; ".join(
            f"{ChargeCategory(category).label} {amount}" for category, amount in einvoice.items
        )

    @admin.display(description="")
    def retry(self, einvoice):
        if einvoice.status != EInvoiceStatus.FAILED:
            return ""
        url = reverse("admin:billing_einvoice_retry", args=[einvoice.pk])
        return format_html('<a class="button row-action" href="{}">{}</a>', url, _("Ask again"))

    def get_urls(self):
        return [
            path(
                "<uuid:object_id>/retry/",
                self.admin_site.admin_view(
                    lambda request, object_id: retry_view(request, self, object_id)
                ),
                name="billing_einvoice_retry",
            ),
            *super().get_urls(),
        ]


class RetryForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=300)


def retry_view(request: HttpRequest, model_admin: ModelAdmin, object_id) -> HttpResponse:
    require(request, "billing.retry_einvoice")
    einvoice = get_object_or_404(EInvoice, pk=object_id)
    if einvoice.status != EInvoiceStatus.FAILED:
        messages.info(request, _("This e-invoice is not refused: nothing to ask again."))
        return redirect("admin:billing_einvoice_changelist")
    form = RetryForm(request.POST or None)
    form.fields["reason"].help_text = _(
        "The platform refused it: %(refusal)s. Say what was put right since."
    ) % {"refusal": einvoice.last_error}
    if request.method == "POST" and form.is_valid():
        try:
            einvoice_retry(einvoice=einvoice, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The platform is asked again."))
            return redirect("admin:billing_einvoice_changelist")
    title = _("Ask the platform again for e-invoice of %(invoice)s") % {
        "invoice": einvoice.invoice.number
    }
    return form_page(
        request, model_admin, original=einvoice, form=form, title=title, label=_("Ask again")
    )


@require_POST
def print_view(request: HttpRequest, object_id: int) -> HttpResponse:
    """The invoice's e-invoice as a PDF to print (opened in a new tab), and the paper
    invoice marked printed: a later refund then needs the paper back."""
    require(request, "billing.print_invoice")
    invoice = get_object_or_404(Invoice.objects.select_related("bill__institution"), pk=object_id)
    einvoice = invoice.einvoice
    if einvoice is None or not einvoice.number:
        messages.error(request, _("This invoice has no issued e-invoice yet."))
        return redirect("admin:billing_invoice_change", invoice.pk)
    invoice_mark_printed(invoice=invoice, actor=request.user)
    response = HttpResponse(einvoice_pdf(einvoice), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'inline; filename="einvoice-{einvoice.code}-{einvoice.number}.pdf"'
    )
    return response
