"""Collection cases in the admin: the queue with its filters, a case's page and actions
(``admin_views``), plans, promises and the case history.
"""

from django.contrib import admin
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.admin import PatientNumbersSearchMixin, ReadOnlyAdminMixin
from accounts.models import Institution
from billing.collections import admin_views, selectors
from billing.collections.cases import bucket_of, buckets
from billing.collections.overdue import days_overdue
from billing.models import (
    BILL_OWED,
    CaseEvent,
    CaseStatus,
    CollectionCase,
    Instalment,
    PaymentPlan,
    PromiseToPay,
)
from creditcare.money import quantize


class CaseStatusFilter(admin.SimpleListFilter):
    """Open cases unless asked otherwise: the queue is what is left to work."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*CaseStatus.choices, ("all", _("All"))]

    def queryset(self, request, queryset):
        value = self.value() or CaseStatus.OPEN
        return queryset if value == "all" else queryset.filter(status=value)

    def choices(self, changelist):
        value = self.value() or CaseStatus.OPEN
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class BucketFilter(admin.SimpleListFilter):
    """Days overdue of the oldest overdue bill (calendar days, China time)."""

    title = _("days overdue")
    parameter_name = "bucket"

    def lookups(self, request, model_admin):
        return [(label, label) for label, _first, _last in buckets()]

    def queryset(self, request, queryset):
        if self.value() not in {label for label, _first, _last in buckets()}:
            return queryset
        return selectors.cases_in_bucket(queryset, label=self.value(), now=timezone.now())


class InstitutionFilter(admin.SimpleListFilter):
    """Where the patient owes a bill."""

    title = _("institution")
    parameter_name = "institution"

    def lookups(self, request, model_admin):
        owed_at = Institution.objects.filter(bills__status__in=BILL_OWED).distinct()
        return [(str(i.pk), i.name) for i in owed_at.order_by("name")]

    def queryset(self, request, queryset):
        if not (self.value() or "").isdigit():
            return queryset
        return selectors.cases_at_institution(queryset, institution_id=int(self.value()))


class AgentFilter(admin.SimpleListFilter):
    title = _("agent")
    parameter_name = "agent"

    def lookups(self, request, model_admin):
        agents = admin_views.collection_agents()
        return [
            ("mine", _("Mine")),
            ("none", _("Unassigned")),
            *[(str(agent.pk), admin_views.agent_name(agent)) for agent in agents],
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "mine":
            return queryset.filter(assigned_to=request.user)
        if value == "none":
            return queryset.filter(assigned_to__isnull=True)
        if (value or "").isdigit():
            return queryset.filter(assigned_to_id=int(value))
        return queryset


class PromiseFilter(admin.SimpleListFilter):
    title = _("promise to pay")
    parameter_name = "promise"

    def lookups(self, request, model_admin):
        return [("due_today", _("Due today")), ("broken", _("Broken"))]

    def queryset(self, request, queryset):
        if self.value() == "due_today":
            return selectors.cases_promise_due_today(queryset, now=timezone.now())
        if self.value() == "broken":
            return selectors.cases_promise_broken(queryset)
        return queryset


@admin.register(CollectionCase)
class CollectionCaseAdmin(PatientNumbersSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The collection queue: highest priority first. Phones are masked; identity numbers are
    not shown at all. Everything done to a case goes through the case page's forms."""

    list_display = [
        "priority",
        "patient_name",
        "phone",
        "bucket",
        "overdue_amount",
        "oldest_due",
        "agent",
        "next_promise",
        "flags",
    ]
    list_display_links = ["patient_name"]
    list_filter = [
        CaseStatusFilter,
        BucketFilter,
        InstitutionFilter,
        AgentFilter,
        PromiseFilter,
        "disputed",
        "escalated",
    ]
    search_fields = ["patient__name", "=patient__citizen_card"]
    search_help_text = _("Patient name, whole mobile number, or citizen card.")
    ordering = ["-priority", "pk"]
    list_per_page = 50
    actions = None
    change_list_template = "admin/billing/collectioncase/change_list.html"

    def get_queryset(self, request):
        return selectors.collection_queue(super().get_queryset(request))

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": _("Collection queue"), **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        site = self.admin_site
        return [
            path(
                "overview/",
                site.admin_view(lambda r: admin_views.overview_view(r, self)),
                name="billing_collectioncase_overview",
            ),
            path(
                "<int:object_id>/act/<str:action>/",
                site.admin_view(
                    lambda r, object_id, action: admin_views.case_action_view(
                        r, self, object_id, action
                    )
                ),
                name="billing_collectioncase_act",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return admin_views.case_view(request, self, object_id)

    @admin.display(description=_("patient"), ordering="patient__name")
    def patient_name(self, case):
        return case.patient.name

    @admin.display(description=_("mobile phone"))
    def phone(self, case):
        return case.patient.masked_phone

    @admin.display(description=_("days overdue"), ordering="oldest_due_at")
    def bucket(self, case):
        if case.oldest_due_at is None or case.status != CaseStatus.OPEN:
            return "-"
        days = days_overdue(case.oldest_due_at, timezone.now())
        return format_html("{} <small>({})</small>", days, bucket_of(days))

    @admin.display(description=_("oldest due"), ordering="oldest_due_at")
    def oldest_due(self, case):
        if case.oldest_due_at is None:
            return "-"
        return str(timezone.localtime(case.oldest_due_at).date())  # 2026-03-08, as elsewhere

    @admin.display(description=_("agent"), ordering="assigned_to__username")
    def agent(self, case):
        return admin_views.agent_name(case.assigned_to) or "-"

    @admin.display(description=_("next promise"), ordering="next_promise_date")
    def next_promise(self, case):
        if case.next_promise_date is None:
            return "-"
        return f"{case.next_promise_date} · {quantize(case.next_promise_amount)}"

    @admin.display(description=_("flags"))
    def flags(self, case):
        shown = [
            (case.on_top_since is not None, "on-top", _("Promise broken")),
            (case.escalated, "escalated", _("Escalated")),
            (case.disputed, "disputed", _("Disputed")),
            (case.has_plan, "plan", _("Plan")),
        ]
        return format_html_join(
            " ", '<span class="case-flag {}">{}</span>', ((c, t) for on, c, t in shown if on)
        )


class InstalmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Instalment
    fields = ["number", "amount", "due_at", "paid_at"]
    readonly_fields = fields
    extra = 0

    def has_view_permission(self, request, obj=None):
        # Part of the plan: whoever may see the plan sees its instalments.
        return request.user.has_perm("billing.view_paymentplan")


@admin.register(PaymentPlan)
class PaymentPlanAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "bill", "case_link", "created_by", "created_at"]
    list_select_related = ["bill", "case__patient", "created_by"]
    search_fields = ["bill__patient__name", "=bill__pk"]
    inlines = [InstalmentInline]

    @admin.display(description=_("collection case"))
    def case_link(self, plan):
        if plan.case_id is None:
            return "-"
        url = reverse("admin:billing_collectioncase_change", args=[plan.case_id])
        return format_html('<a href="{}">{}</a>', url, plan.case.patient.name)


@admin.register(PromiseToPay)
class PromiseToPayAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["promised_date", "patient_name", "amount", "status", "created_by"]
    list_filter = ["status"]
    list_select_related = ["case__patient", "created_by"]
    search_fields = ["case__patient__name"]
    date_hierarchy = "promised_date"

    @admin.display(description=_("patient"), ordering="case__patient__name")
    def patient_name(self, promise):
        return promise.case.patient.name


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every action on every case: who did what, when."""

    list_display = ["created_at", "patient_name", "kind", "actor", "channel", "outcome", "amount"]
    list_filter = ["kind", "channel", "actor"]
    list_select_related = ["case__patient", "actor"]
    search_fields = ["case__patient__name", "note", "outcome"]
    date_hierarchy = "created_at"

    @admin.display(description=_("patient"), ordering="case__patient__name")
    def patient_name(self, event):
        return event.case.patient.name
