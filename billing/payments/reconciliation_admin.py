"""Finance's reconciliation in the admin: the runs by day and channel with their state, each
difference with the payment and bill it concerns, the screen that resolves one (an action
and a reason, through ``difference_resolve``), and finance's alerts."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from accounts.admin import ReadOnlyAdminMixin
from accounts.admin_views import form_page, require
from billing.models import (
    Alert,
    DifferenceEvent,
    DifferenceStatus,
    Payment,
    ReconciliationDifference,
    ReconciliationRun,
    Resolution,
    TillCount,
    WindowMethod,
)
from billing.payments.alerts import alert_acknowledge
from billing.payments.gateways import GatewayError, channel_name
from billing.payments.reconciliation import RESOLUTIONS_FOR, difference_resolve, reconciliation_run
from creditcare.errors import DomainError


def _difference_links(difference: ReconciliationDifference) -> str:
    """The payment and bill a difference concerns, as links."""
    if difference.payment_id is None:
        return "—"
    return format_html(
        '<a href="{}">{}</a> · <a href="{}">{}</a>',
        reverse("admin:billing_payment_change", args=[difference.payment_id]),
        _("payment"),
        reverse("admin:billing_bill_change", args=[difference.payment.bill_id]),
        _("bill %(number)s") % {"number": difference.payment.bill_id},
    )


def _resolve_button(difference: ReconciliationDifference) -> str:
    if difference.status != DifferenceStatus.OPEN:
        return difference.get_resolution_display()
    url = reverse("admin:billing_reconciliationdifference_resolve", args=[difference.pk])
    return format_html('<a class="button" href="{}">{}</a>', url, _("Resolve"))


class DifferenceColumns:
    """What a difference shows in a list: its number, what it concerns, its resolution (or
    the button that resolves it)."""

    @admin.display(description=gettext_lazy("order or refund number"))
    def number(self, difference):
        return difference.out_refund_no or difference.out_trade_no

    @admin.display(description=gettext_lazy("payment and bill"))
    def concerns(self, difference):
        return _difference_links(difference)

    @admin.display(description=gettext_lazy("resolution"))
    def resolution_or_action(self, difference):
        return _resolve_button(difference)


class DifferenceInline(DifferenceColumns, ReadOnlyAdminMixin, admin.TabularInline):
    model = ReconciliationDifference
    fields = [
        "kind",
        "number",
        "channel_amount",
        "our_amount",
        "concerns",
        "status",
        "resolution_or_action",
        "resolved_by",
        "reason",
    ]
    readonly_fields = fields
    extra = 0
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("payment", "resolved_by")


class TillCountInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TillCount
    fields = ["method_shown", "counted", "recorded"]
    readonly_fields = fields
    extra = 0

    @admin.display(description=gettext_lazy("paid by"))
    def method_shown(self, count):
        return WindowMethod(count.method).label


class ChannelFilter(admin.SimpleListFilter):
    """The channels of the list's rows, by name (finance's lists: runs, statements)."""

    title = gettext_lazy("channel")
    parameter_name = "channel"
    field = "channel"  # where the rows keep it

    def lookups(self, request, model_admin):
        rows = model_admin.model.objects.order_by()
        channels = rows.values_list(self.field, flat=True).distinct()
        return [(channel, channel_name(channel)) for channel in sorted(channels)]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.field: self.value()}) if self.value() else queryset


class RunChannelFilter(ChannelFilter):
    field = "run__channel"


class ActiveFilter(admin.SimpleListFilter):
    title = gettext_lazy("active")
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", pgettext("alert", "Active")), ("no", _("Cleared"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(cleared_at=None)
        if self.value() == "no":
            return queryset.exclude(cleared_at=None)
        return queryset


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Each morning's runs by day and channel. A run closes when finance has resolved all
    of its differences; running a day again adds what is new and keeps what was resolved."""

    list_display = [
        "day",
        "channel_shown",
        "status",
        "open_differences",
        "channel_count",
        "channel_total",
        "our_count",
        "our_total",
        "checked_at",
        "error",
    ]
    list_filter = ["status", ChannelFilter]
    date_hierarchy = "day"
    fields = [
        "channel_shown",
        "day",
        ("cashier", "institution"),
        "status",
        ("channel_count", "channel_total"),
        ("our_count", "our_total"),
        ("attempts", "error"),
        ("started_at", "checked_at", "closed_at"),
    ]
    readonly_fields = flatten(fields)
    inlines = [TillCountInline, DifferenceInline]
    actions = ["run_again"]

    def get_inlines(self, request, obj):
        # A cashier's count for the window's runs; a statement's runs have none.
        return self.inlines if obj and obj.cashier_id else [DifferenceInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                open_count=Count("differences", filter=Q(differences__status=DifferenceStatus.OPEN))
            )
        )

    @admin.display(description=gettext_lazy("channel"), ordering="channel")
    def channel_shown(self, run):
        return channel_name(run.channel)

    @admin.display(description=gettext_lazy("open differences"), ordering="open_count")
    def open_differences(self, run):
        return run.open_count

    def has_resolve_permission(self, request) -> bool:
        return request.user.has_perm("billing.resolve_difference")

    @admin.action(
        description=gettext_lazy("Download the statement again and compare"),
        permissions=["resolve"],
    )
    def run_again(self, request, queryset):
        for run in queryset:
            if run.cashier_id:
                self.message_user(
                    request,
                    _("%(run)s: a till is counted again by its cashier.") % {"run": run},
                    messages.WARNING,
                )
                continue
            try:
                run, _comparison = reconciliation_run(channel=run.channel, day=run.day)
            except (GatewayError, KeyError) as error:
                self.message_user(
                    request,
                    _("%(run)s: the statement could not be downloaded (%(error)s).")
                    % {"run": run, "error": error},
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request,
                    _("%(run)s: %(status)s.") % {"run": run, "status": run.get_status_display()},
                )


class DifferenceEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DifferenceEvent
    fields = ["created_at", "resolution", "actor", "reason", "detail"]
    readonly_fields = fields
    extra = 0


@admin.register(ReconciliationDifference)
class ReconciliationDifferenceAdmin(DifferenceColumns, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every difference, open first; each resolved from its page, with a reason."""

    list_display = [
        "run",
        "kind",
        "number",
        "channel_amount",
        "our_amount",
        "concerns",
        "status",
        "resolution_or_action",
    ]
    list_filter = ["status", "kind", RunChannelFilter, "resolution"]
    search_fields = ["out_trade_no", "out_refund_no", "gateway_trade_no"]
    list_select_related = ["run", "payment"]
    ordering = ["-status", "-run__day", "pk"]  # "open" sorts after "resolved"
    date_hierarchy = "run__day"
    fields = [
        "run",
        "kind",
        ("out_trade_no", "out_refund_no", "gateway_trade_no"),
        ("channel_amount", "our_amount", "at"),
        "concerns",
        "status",
        ("resolution", "resolved_by", "resolved_at"),
        "reason",
    ]
    readonly_fields = flatten(fields)
    inlines = [DifferenceEventInline]

    def get_urls(self):
        return [
            path(
                "<int:object_id>/resolve/",
                self.admin_site.admin_view(
                    lambda request, object_id: resolve_view(request, self, object_id)
                ),
                name="billing_reconciliationdifference_resolve",
            ),
            *super().get_urls(),
        ]


class ResolveForm(forms.Form):
    resolution = forms.ChoiceField(
        label=gettext_lazy("Resolve by"),
        help_text=gettext_lazy(
            "Settled from the statement: the money is recorded as the lost notification would "
            "have, and the bill is paid. Refunded: money we do not need goes back to the payer. "
            "Linked: it is the same money as a payment of ours. Timing: it appears on another "
            "day's statement. Written off: finance accepts the difference."
        ),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=500,
    )
    payment = forms.CharField(
        label=gettext_lazy("Payment (our order number)"),
        max_length=40,
        required=False,
        help_text=gettext_lazy("Only to link the difference to a payment of ours."),
    )

    def __init__(self, *args, difference: ReconciliationDifference, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["resolution"].choices = [
            (value, label)
            for value, label in Resolution.choices
            if difference.kind in RESOLUTIONS_FOR.get(value, ())
        ]

    def clean_payment(self) -> Payment | None:
        number = self.cleaned_data["payment"].strip()
        if not number:
            return None
        payment = Payment.objects.filter(out_trade_no=number).first()
        if payment is None:
            raise forms.ValidationError(_("No payment of ours has this order number."))
        return payment


def resolve_view(request: HttpRequest, model_admin, object_id: int) -> HttpResponse:
    require(request, "billing.resolve_difference")
    difference = get_object_or_404(
        ReconciliationDifference.objects.select_related("run", "payment"), pk=object_id
    )
    if difference.status != DifferenceStatus.OPEN:
        messages.info(request, _("This difference is resolved already."))
        return redirect("admin:billing_reconciliationrun_change", difference.run_id)
    form = ResolveForm(request.POST or None, difference=difference)
    if request.method == "POST" and form.is_valid():
        try:
            difference_resolve(difference=difference, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Resolved: %(difference)s.") % {"difference": difference})
            return redirect("admin:billing_reconciliationrun_change", difference.run_id)
    title = _("Resolve %(kind)s: %(number)s (at the channel %(channel)s, ours %(ours)s)") % {
        "kind": difference.get_kind_display(),
        "number": difference.out_refund_no or difference.out_trade_no,
        "channel": difference.channel_amount if difference.channel_amount is not None else "—",
        "ours": difference.our_amount if difference.our_amount is not None else "—",
    }
    return form_page(
        request, model_admin, original=difference, form=form, title=title, label=_("Resolve")
    )


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Finance's alerts: the active ones first; each acknowledged by whoever takes it on."""

    list_display = [
        "raised_at",
        "severity",
        "message",
        "acknowledged_by",
        "acknowledged_at",
        "cleared_at",
    ]
    list_filter = ["severity", "rule", ActiveFilter]
    list_select_related = ["acknowledged_by"]
    actions = ["acknowledge"]

    def has_acknowledge_permission(self, request) -> bool:
        return request.user.has_perm("billing.acknowledge_alert")

    @admin.action(description=gettext_lazy("Acknowledge: I am on it"), permissions=["acknowledge"])
    def acknowledge(self, request, queryset):
        done = 0
        for alert in queryset.filter(acknowledged_at=None):
            alert_acknowledge(alert=alert, actor=request.user)
            done += 1
        self.message_user(request, _("%(count)s alert(s) acknowledged.") % {"count": done})
