"""Window staff screens of the billing admin: taking a payment at the window, marking an
invoice printed, and paying out the refunds waiting in the window queue.

Each view checks its permission, validates a form and calls one service.
"""

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.admin_views import form_page, require
from billing.models import Bill, Refund, RefundMethod, RunStatus, WindowMethod
from billing.payments.reconciliation import till_close
from billing.payments.refunds import refund_pay_out
from billing.payments.services import payment_take_at_window
from creditcare.errors import DomainError


class WindowPaymentForm(forms.Form):
    amount = forms.DecimalField(
        label=gettext_lazy("Amount received"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
    )
    method = forms.ChoiceField(label=gettext_lazy("Paid by"), choices=WindowMethod.choices)
    reference = forms.CharField(
        label=gettext_lazy("Terminal reference"),
        max_length=60,
        required=False,
        help_text=gettext_lazy("For a card or a scanned code: the reference on the slip."),
    )


TILL_DAYS_BACK = dt.timedelta(days=31)  # a forgotten till is closed late, not years late


class TillForm(forms.Form):
    """The end-of-day count, one amount per way of paying (counted blind: what the books
    expect is shown after)."""

    day = forms.DateField(
        label=gettext_lazy("Day"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for method, label in WindowMethod.choices:
            self.fields[method] = forms.DecimalField(
                label=label,
                max_digits=12,
                decimal_places=2,
                min_value=Decimal("0"),
                initial=Decimal("0.00"),
            )

    def clean_day(self):
        day, today = self.cleaned_data["day"], timezone.localdate()
        if day > today:
            raise forms.ValidationError(_("A day that has not come cannot be closed."))
        if day < today - TILL_DAYS_BACK:
            raise forms.ValidationError(
                _("A till is closed within %(days)s days.") % {"days": TILL_DAYS_BACK.days}
            )
        return day


class PayOutForm(forms.Form):
    method = forms.ChoiceField(label=gettext_lazy("Given back by"), choices=RefundMethod.choices)
    note = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("E.g. paper invoice taken back, receipt number."),
    )


def close_till_view(request: HttpRequest, model_admin: ModelAdmin) -> HttpResponse:
    require(request, "billing.close_till")
    form = TillForm(request.POST or None, initial={"day": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        counts = {method: form.cleaned_data[method] for method in WindowMethod.values}
        try:
            run = till_close(cashier=request.user, day=form.cleaned_data["day"], counts=counts)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            lines = _("; ").join(  # a list's separator, as the language writes it
                _("%(method)s counted %(counted)s, recorded %(recorded)s")
                % {
                    "method": WindowMethod(count.method).label,
                    "counted": count.counted,
                    "recorded": count.recorded,
                }
                for count in run.till_counts.all()
            )
            if run.status == RunStatus.BALANCED:
                messages.success(request, _("The till balances: %(lines)s.") % {"lines": lines})
            else:
                messages.warning(
                    request,
                    _("The till does not balance: %(lines)s. Finance will look into it.")
                    % {"lines": lines},
                )
            return redirect("admin:billing_payment_close_till")
    return form_page(
        request,
        model_admin,
        original=None,
        form=form,
        title=_("Close the till: count what it holds"),
        label=_("Close the till"),
    )


def window_payment_view(
    request: HttpRequest, model_admin: ModelAdmin, object_id: int
) -> HttpResponse:
    require(request, "billing.take_window_payment")
    bill = get_object_or_404(Bill.objects.select_related("patient"), pk=object_id)
    form = WindowPaymentForm(request.POST or None, initial={"amount": bill.amount_due})
    if request.method == "POST" and form.is_valid():
        try:
            payment = payment_take_at_window(bill=bill, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            if payment.duplicate:
                messages.warning(
                    request,
                    _(
                        "This bill was already paid: %(amount)s is in the window refund "
                        "queue, to hand back."
                    )
                    % {"amount": payment.amount},
                )
            else:
                messages.success(request, _("Payment recorded; the receipt SMS is on its way."))
            return redirect("admin:billing_bill_change", bill.pk)
    title = _("Take payment at the window: %(bill)s, due %(due)s") % {
        "bill": bill,
        "due": bill.amount_due,
    }
    return form_page(
        request, model_admin, original=bill, form=form, title=title, label=_("Record payment")
    )


def pay_out_view(request: HttpRequest, model_admin: ModelAdmin, object_id: int) -> HttpResponse:
    require(request, "billing.pay_out_refund")
    refund = get_object_or_404(Refund.objects.select_related("payment__bill"), pk=object_id)
    form = PayOutForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            refund_pay_out(refund=refund, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request, _("Refund of %(amount)s paid out.") % {"amount": refund.amount}
            )
            return redirect("admin:billing_refund_changelist")
    title = _("Pay out refund %(refund)s") % {"refund": refund}
    return form_page(
        request, model_admin, original=refund, form=form, title=title, label=_("Paid out")
    )
