"""The collections desk in the admin: the case page with its actions, and the overview.

Each action is a POST form: the view checks the permission (``billing.work_collectioncase``,
``billing.write_off_bill`` for a write-off), validates the form and calls one service of
``billing.collections`` with ``actor=request.user``. A refusal by the service is shown as an
admin message and the page is shown again with what was typed; nothing changes.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.admin_views import require
from accounts.models import User
from accounts.roles import COLLECTION_STAFF
from billing.collections import cases, selectors
from billing.models import Bill, CaseStatus, CollectionCase, ContactChannel
from billing.reports import Report
from creditcare.errors import DomainError

WORK = "billing.work_collectioncase"
WRITE_OFF = "billing.write_off_bill"
VIEW = "billing.view_collectioncase"

PLAN_ROWS = 6  # instalment rows on the plan form; blank rows are ignored


def agent_name(user: User | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def collection_agents():
    return User.objects.filter(groups__name=COLLECTION_STAFF, is_active=True).order_by("username")


class AgentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return agent_name(obj)


# --- forms -----------------------------------------------------------------------------------


def _note(required: bool = False, label=None) -> forms.CharField:
    return forms.CharField(
        label=label or gettext_lazy("Note"),
        required=required,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 40}),
    )


def _money(label) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, min_value=Decimal("0.01"), max_digits=12, decimal_places=2
    )


def _date(label, required: bool = True) -> forms.DateField:
    return forms.DateField(
        label=label, required=required, widget=forms.DateInput(attrs={"type": "date"})
    )


class CaseForm(forms.Form):
    """A form about one case: knows the case, who acts, and when."""

    def __init__(self, *args, case: CollectionCase, user: User, now: dt.datetime, **kwargs):
        self.case, self.user, self.now = case, user, now
        super().__init__(*args, **kwargs)

    @property
    def applies(self) -> bool:
        """Whether the action has anything to act on (a form without a choice is not shown)."""
        return True


class BillFormMixin:
    """A choice among the case's overdue bills; the only one is chosen already."""

    def _bills(self, bills) -> None:
        self.fields["bill"].queryset = bills.select_related("institution")
        only = list(bills[:2])
        if len(only) == 1:
            self.fields["bill"].initial = only[0].pk

    @property
    def applies(self) -> bool:
        return self.fields["bill"].queryset.exists()


class ConfirmForm(CaseForm):
    """A button, nothing to fill in."""


class AssignForm(CaseForm):
    agent = AgentChoiceField(
        label=gettext_lazy("Agent"),
        queryset=User.objects.none(),
        required=False,
        empty_label=gettext_lazy("Nobody (unassign)"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = collection_agents()
        self.fields["agent"].initial = self.case.assigned_to_id


class ContactForm(CaseForm):
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), choices=ContactChannel.choices)
    outcome = forms.CharField(
        label=gettext_lazy("Outcome"),
        max_length=100,
        help_text=gettext_lazy("E.g. no answer, will pay Friday, wrong number."),
    )
    note = _note()


class PromiseForm(CaseForm):
    promised_date = _date(gettext_lazy("Will pay by"))
    amount = _money(gettext_lazy("Amount (CNY)"))
    note = _note()


class BillChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, bill: Bill) -> str:
        return _("Bill %(pk)s, %(institution)s: %(amount)s due %(due)s") % {
            "pk": bill.pk,
            "institution": bill.institution.name,
            "amount": bill.amount_due,
            "due": timezone.localtime(bill.due_at).date(),
        }


class PlanForm(BillFormMixin, CaseForm):
    bill = BillChoiceField(label=gettext_lazy("Bill"), queryset=Bill.objects.none())
    note = _note()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._bills(
            selectors.case_overdue_bills(case=self.case, now=self.now).filter(plan__isnull=True)
        )
        for row in range(1, PLAN_ROWS + 1):
            self.fields[f"date_{row}"] = _date(gettext_lazy("Date"), required=False)
            self.fields[f"amount_{row}"] = _money(gettext_lazy("Amount (CNY)"))
            self.fields[f"amount_{row}"].required = False

    def rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"date_{row}"], self[f"amount_{row}"]) for row in range(1, PLAN_ROWS + 1)]

    def clean(self):
        data = super().clean()
        instalments = []
        for row in range(1, PLAN_ROWS + 1):
            date_name, amount_name = f"date_{row}", f"amount_{row}"
            if date_name in self.errors or amount_name in self.errors:
                continue
            day, amount = data.get(date_name), data.get(amount_name)
            if day is None and amount is None:
                continue
            if day is None:
                self.add_error(date_name, _("Give the date of this instalment."))
            elif amount is None:
                self.add_error(amount_name, _("Give the amount of this instalment."))
            else:
                instalments.append((day, amount))
        if not self.errors and len(instalments) < 2:
            raise forms.ValidationError(_("A plan has at least two instalments."))
        data["instalments"] = instalments
        return data


class EscalateForm(CaseForm):
    note = _note(required=True, label=gettext_lazy("Why"))


class DisputeForm(CaseForm):
    note = _note(required=True, label=gettext_lazy("Why"))


class WriteOffForm(BillFormMixin, CaseForm):
    bill = BillChoiceField(label=gettext_lazy("Bill"), queryset=Bill.objects.none())
    reason = _note(required=True, label=gettext_lazy("Reason"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._bills(selectors.case_overdue_bills(case=self.case, now=self.now))


# --- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    form: type[CaseForm]
    permission: str
    label: str
    run: Callable[[CollectionCase, User, dict], str]  # calls one service, says what it did


def _take(case, user, data) -> str:
    cases.case_assign(case=case, agent=user, actor=user)
    return _("The case is now yours.")


def _assign(case, user, data) -> str:
    agent = data["agent"]
    cases.case_assign(case=case, agent=agent, actor=user)
    if agent is None:
        return _("The case is unassigned.")
    return _("The case is assigned to %(agent)s.") % {"agent": agent_name(agent)}


def _contact(case, user, data) -> str:
    cases.case_log_contact(
        case=case, actor=user, channel=data["channel"], outcome=data["outcome"], note=data["note"]
    )
    return _("The contact is recorded.")


def _resend(case, user, data) -> str:
    sent = cases.case_resend_links(case=case, actor=user)
    return _("%(n)d payment link(s) sent by SMS.") % {"n": sent}


def _promise(case, user, data) -> str:
    promise = cases.case_promise(
        case=case,
        actor=user,
        promised_date=data["promised_date"],
        amount=data["amount"],
        note=data["note"],
    )
    return _("Promise recorded: %(amount)s by %(date)s.") % {
        "amount": promise.amount,
        "date": promise.promised_date,
    }


def _plan(case, user, data) -> str:
    plan = cases.case_plan(
        case=case, actor=user, bill=data["bill"], instalments=data["instalments"], note=data["note"]
    )
    return _("Payment plan set up for bill %(bill)s: %(n)d instalments.") % {
        "bill": plan.bill_id,
        "n": len(data["instalments"]),
    }


def _escalate(case, user, data) -> str:
    cases.case_escalate(case=case, actor=user, note=data["note"])
    return _("The case is escalated.")


def _dispute(case, user, data) -> str:
    cases.case_dispute(case=case, actor=user, disputed=True, note=data["note"])
    return _("The case is marked disputed: reminders are paused.")


def _resolve(case, user, data) -> str:
    cases.case_dispute(case=case, actor=user, disputed=False, note=data["note"])
    return _("The dispute is resolved: reminders resume.")


def _write_off(case, user, data) -> str:
    bill = cases.bill_write_off(bill=data["bill"], actor=user, reason=data["reason"])
    return _("Bill %(bill)s written off: %(amount)s.") % {
        "bill": bill.pk,
        "amount": bill.written_off_amount,
    }


ACTIONS: dict[str, Action] = {
    "take": Action(ConfirmForm, WORK, gettext_lazy("Assign to me"), _take),
    "assign": Action(AssignForm, WORK, gettext_lazy("Assign"), _assign),
    "contact": Action(ContactForm, WORK, gettext_lazy("Log the contact"), _contact),
    "resend": Action(ConfirmForm, WORK, gettext_lazy("Resend the payment links"), _resend),
    "promise": Action(PromiseForm, WORK, gettext_lazy("Record the promise"), _promise),
    "plan": Action(PlanForm, WORK, gettext_lazy("Set up the plan"), _plan),
    "escalate": Action(EscalateForm, WORK, gettext_lazy("Escalate"), _escalate),
    "dispute": Action(DisputeForm, WORK, gettext_lazy("Mark disputed"), _dispute),
    "resolve": Action(DisputeForm, WORK, gettext_lazy("Resolve the dispute"), _resolve),
    "write_off": Action(WriteOffForm, WRITE_OFF, gettext_lazy("Write off"), _write_off),
}


# --- views -----------------------------------------------------------------------------------


def _case_url(case: CollectionCase) -> str:
    return reverse("admin:billing_collectioncase_change", args=[case.pk])


def _render_case(
    request: HttpRequest,
    model_admin: ModelAdmin,
    case_id: int,
    bound: dict[str, CaseForm] | None = None,
) -> HttpResponse:
    now = timezone.now()
    detail = selectors.case_detail(case_id=case_id, now=now)
    if detail is None:
        raise Http404
    case, user = detail.case, request.user
    is_open = case.status == CaseStatus.OPEN
    bound = bound or {}
    action_forms = {}
    if is_open:
        for name, action in ACTIONS.items():
            if name == ("resolve" if not case.disputed else "dispute"):
                continue  # one of the two, as the case stands
            if not user.has_perm(action.permission):
                continue
            form = bound.get(name) or action.form(case=case, user=user, now=now, prefix=name)
            if name not in bound and not form.applies:
                continue  # e.g. a plan when every overdue bill has one already
            action_forms[name] = {"form": form, "label": action.label, "name": name}
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": case,
        "title": _("Collection case: %(name)s") % {"name": case.patient.name},
        "detail": detail,
        "case": case,
        "patient": case.patient,
        "agent": agent_name(case.assigned_to),
        "is_open": is_open,
        "forms": action_forms,
        "can_work": user.has_perm(WORK),
        "mine": case.assigned_to_id == user.pk,
        "overview_url": reverse("admin:billing_collectioncase_overview"),
    }
    return render(request, "admin/billing/collectioncase/case.html", context)


def case_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    require(request, VIEW)
    if not str(object_id).isdigit():
        raise Http404
    return _render_case(request, model_admin, int(object_id))


def case_action_view(
    request: HttpRequest, model_admin: ModelAdmin, object_id: int, action: str
) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404
    spec = ACTIONS[action]
    require(request, spec.permission)
    case = CollectionCase.objects.filter(pk=object_id).select_related("patient").first()
    if case is None:
        raise Http404
    if request.method != "POST":
        return redirect(_case_url(case))
    form = spec.form(request.POST, case=case, user=request.user, now=timezone.now(), prefix=action)
    if form.is_valid():
        try:
            done = spec.run(case, request.user, form.cleaned_data)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, done)
            return redirect(_case_url(case))
    else:
        messages.error(
            request,
            _("%(action)s: nothing was changed, please correct the form below.")
            % {"action": spec.label},
        )
    return _render_case(request, model_admin, case.pk, bound={action: form})


# --- the overview ----------------------------------------------------------------------------


def bar_chart(key: str, title: str, rows: list[tuple[str, Decimal | int, str]]) -> Report:
    """Horizontal bars of ``rows`` (label, value, link or ""), drawn as the reports are."""
    return Report(
        key=key,
        title=title,
        kind="bar",
        labels=[label for label, _value, _url in rows],
        series=[{"name": title, "values": [value for _label, value, _url in rows]}],
        columns=[],
        horizontal=True,
        links=[url for _label, _value, url in rows],
    )


def overview_view(request: HttpRequest, model_admin: ModelAdmin) -> HttpResponse:
    require(request, VIEW)
    overview = selectors.collections_overview()
    queue = reverse("admin:billing_collectioncase_changelist")
    amounts = bar_chart(
        "amounts",
        _("Overdue amount by days overdue (CNY)"),
        [
            (b.label, b.amount, f"{queue}?{urlencode({'bucket': b.label})}")
            for b in overview.buckets
        ],
    )
    counts = bar_chart(
        "counts",
        _("Overdue bills by days overdue"),
        [(b.label, b.bills, "") for b in overview.buckets],
    )
    agents = bar_chart(
        "agents",
        _("Open cases per agent"),
        [
            (
                agent_name(row.agent) if row.agent else _("Unassigned"),
                row.cases,
                f"{queue}?agent={row.agent.pk if row.agent else 'none'}",
            )
            for row in overview.agents
        ],
    )
    recovered = bar_chart(
        "recovered",
        _("Recovered (CNY)"),
        [
            (_("This week"), overview.recovered_week, ""),
            (_("This month"), overview.recovered_month, ""),
        ],
    )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("Collections overview"),
        "overview": overview,
        "charts": {"amounts": amounts, "counts": counts, "agents": agents, "recovered": recovered},
        "queue_url": queue,
    }
    return render(request, "admin/billing/collectioncase/overview.html", context)
