"""Settlement statements in the admin, for finance: what each institution is owed by day and
channel, exported for the bank (CSV or Excel), and marked paid out with the transfer's
reference."""

import io

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from openpyxl import Workbook

from accounts.admin import ReadOnlyAdminMixin
from accounts.admin_views import form_page, require
from billing.models import SettlementStatement, SettlementStatus
from billing.payments.gateways import channel_name
from billing.payments.reconciliation_admin import ChannelFilter
from billing.payments.settlement import settlement_pay_out
from creditcare.errors import DomainError
from creditcare.exports import csv_download

COLUMNS = [
    ("day", gettext_lazy("day")),
    ("institution", gettext_lazy("institution")),
    ("institution_code", gettext_lazy("institution code")),
    ("channel", gettext_lazy("channel")),
    ("payment_count", pgettext_lazy("settlement", "payments")),
    ("gross", pgettext_lazy("settlement", "paid")),
    ("refund_count", pgettext_lazy("settlement", "refunds")),
    ("refunds", pgettext_lazy("settlement", "refunded")),
    ("fee_rate", gettext_lazy("fee rate")),
    ("fees", gettext_lazy("channel fees")),
    ("net", gettext_lazy("net to pay out")),
    ("status", gettext_lazy("status")),
    ("transfer_reference", gettext_lazy("transfer reference")),
]


def _rows(queryset) -> list[list[str]]:
    """The statements as the bank file's rows: a header, then one row each, amounts as
    exact decimal text."""
    rows = [[str(label) for _name, label in COLUMNS]]
    for s in queryset.select_related("institution").order_by("day", "institution__code", "channel"):
        values = {
            "day": s.day.isoformat(),
            "institution": s.institution.name,
            "institution_code": s.institution.code,
            "channel": channel_name(s.channel),
            "status": s.get_status_display(),
        }
        rows.append(
            [str(values[name] if name in values else getattr(s, name)) for name, _l in COLUMNS]
        )
    return rows


@admin.register(SettlementStatement)
class SettlementStatementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "day",
        "institution",
        "channel_shown",
        "gross",
        "net",
        "status",
        "pay_out_button",
    ]  # refunds and fees on the statement's page: the list fits beside the filters
    list_filter = ["status", "institution", ChannelFilter]
    list_select_related = ["institution"]
    date_hierarchy = "day"
    actions = ["export_csv", "export_excel"]

    @admin.display(description=gettext_lazy("channel"), ordering="channel")
    def channel_shown(self, statement):
        return channel_name(statement.channel)

    @admin.display(description="")
    def pay_out_button(self, statement):
        if statement.status != SettlementStatus.TO_PAY:
            return ""
        url = reverse("admin:billing_settlementstatement_pay_out", args=[statement.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Mark paid out"))

    @admin.action(description=gettext_lazy("Export the selected statements (CSV)"))
    def export_csv(self, request, queryset):
        return csv_download("settlement.csv", _rows(queryset))

    @admin.action(description=gettext_lazy("Export the selected statements (Excel)"))
    def export_excel(self, request, queryset):
        book = Workbook()
        sheet = book.active
        sheet.title = _("Settlement")
        for row in _rows(queryset):
            sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        response = HttpResponse(
            out.getvalue(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = 'attachment; filename="settlement.xlsx"'
        return response

    def get_urls(self):
        return [
            path(
                "<int:object_id>/pay-out/",
                self.admin_site.admin_view(
                    lambda request, object_id: pay_out_view(request, self, object_id)
                ),
                name="billing_settlementstatement_pay_out",
            ),
            *super().get_urls(),
        ]


class PayOutForm(forms.Form):
    transfer_reference = forms.CharField(
        label=gettext_lazy("Transfer reference"),
        max_length=60,
        help_text=gettext_lazy("The bank transfer's reference, as on the bank's receipt."),
    )


def pay_out_view(request: HttpRequest, model_admin, object_id: int) -> HttpResponse:
    require(request, "billing.pay_out_settlement")
    statement = get_object_or_404(
        SettlementStatement.objects.select_related("institution"), pk=object_id
    )
    form = PayOutForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            settlement_pay_out(statement=statement, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request, _("Marked paid out: %(statement)s.") % {"statement": statement}
            )
            return redirect("admin:billing_settlementstatement_changelist")
    title = _("Pay out %(net)s to %(institution)s (%(channel)s, %(day)s)") % {
        "net": statement.net,
        "institution": statement.institution.name,
        "channel": channel_name(statement.channel),
        "day": statement.day,
    }
    return form_page(
        request, model_admin, original=statement, form=form, title=title, label=_("Mark paid out")
    )
