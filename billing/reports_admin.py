"""The reports page of the admin (finance, credit officers, management): each report's
chart, its figures, and the figures as CSV, for a date range and an institution."""

import datetime as dt

from django import forms
from django.contrib.admin import ModelAdmin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.admin_views import require
from accounts.models import Institution
from billing.reports import REPORTS, Period, reports
from creditcare.exports import csv_download

LONGEST = dt.timedelta(days=731)  # two years of days on one page
EARLIEST = dt.date(2000, 1, 1)  # before the scheme: nothing to report, and far from overflow


class PeriodForm(forms.Form):
    start = forms.DateField(
        label=gettext_lazy("From"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    end = forms.DateField(
        label=gettext_lazy("To"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    institution = forms.ModelChoiceField(
        label=gettext_lazy("Institution"),
        queryset=Institution.objects.order_by("name"),
        required=False,
        empty_label=gettext_lazy("All institutions"),
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if not (start and end):
            return data
        if start < EARLIEST or end > timezone.localdate():
            raise forms.ValidationError(_("Choose days from 2000 to today."))
        if not start <= end <= start + LONGEST:
            raise forms.ValidationError(_("Choose a period of one day to two years."))
        return data


def default_period() -> dict:
    """The last six months, to today."""
    today = timezone.localdate()
    start = (today.replace(day=1) - dt.timedelta(days=150)).replace(day=1)
    return {"start": start, "end": today}


def reports_view(request: HttpRequest, model_admin: ModelAdmin) -> HttpResponse:
    require(request, "billing.view_reports")
    form = PeriodForm(request.GET if "start" in request.GET else None, initial=default_period())
    data = form.cleaned_data if form.is_bound and form.is_valid() else default_period()
    period = Period(data["start"], data["end"], data.get("institution"))
    wanted = request.GET.get("csv")
    if wanted in REPORTS:
        report = REPORTS[wanted](period)
        return csv_download(f"{report.key}.csv", [report.columns, *report.rows])
    query = (
        request.GET.copy().urlencode()
        if form.is_bound and form.is_valid()
        else f"start={period.start.isoformat()}&end={period.end.isoformat()}"
    )
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Reports"),
        "is_nav_sidebar_enabled": False,  # management may have no other page to list
        "form": form,
        "reports": reports(period),
        "query": query,
    }
    return render(request, "admin/billing/reports.html", context)
