"""The accounts admin: thin pages over the models; every change goes through a service
(see ``accounts.admin_views``). Records are read-only here."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts import admin_views, selectors, services
from accounts.masking import sees_identity
from accounts.models import (
    AgreementEvent,
    CreditAgreement,
    CreditLimitChange,
    CreditLine,
    CreditPolicy,
    CreditScore,
    FamilyPayer,
    Institution,
    InstitutionApiKey,
    Patient,
    User,
)


class PatientNumbersSearchMixin:
    """Search by a patient's whole numbers, beside the admin's ``search_fields``: a mobile
    number, and an identity number for staff who may see them. Never a part of a number
    (see ``selectors.patient_numbers_match``)."""

    patient_path = "patient__"  # from this admin's model to the patient

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            found |= queryset.filter(
                selectors.patient_numbers_match(
                    search_term, path=self.patient_path, identity=sees_identity(request.user)
                )
            )
        return found, may_have_duplicates


class ReadOnlyAdminMixin:
    """Records are written by services only: staff look, never edit or delete here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "kind", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "code"]


@admin.register(InstitutionApiKey)
class InstitutionApiKeyAdmin(admin.ModelAdmin):
    """HIS API keys: created here (the key is shown once), revoked with the list action."""

    list_display = ["institution", "name", "prefix", "created_at", "created_by", "revoked_at"]
    list_filter = ["institution", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "institution__name", "institution__code"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["institution", "name"]
        return ["institution", "name", "prefix", "created_at", "created_by", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return
        api_key, key = services.api_key_create(
            institution=obj.institution, name=obj.name, actor=request.user
        )
        obj.pk, obj._state.adding = api_key.pk, False
        messages.warning(
            request,
            _("Copy the new key now, it is not shown again: %(key)s") % {"key": key},
        )

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request, queryset):
        for api_key in queryset:
            services.api_key_revoke(api_key=api_key)
        messages.success(request, _("Revoked %(n)d key(s).") % {"n": queryset.count()})

    def has_delete_permission(self, request, obj=None):
        return False  # revoked keys stay, so charges keep naming who posted them


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    list_display = ["username", "first_name", "last_name", "institution", "is_active"]
    list_filter = [*UserAdmin.list_filter, "institution"]
    fieldsets = [*UserAdmin.fieldsets, (_("Workplace"), {"fields": ["institution"]})]


class CreditLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CreditLine
    fields = ["pool", "limit", "used", "available", "open_line"]
    readonly_fields = fields
    extra = 0

    @admin.display(description=_("available"))
    def available(self, line):
        return line.available

    @admin.display(description="")
    def open_line(self, line):
        url = reverse("admin:accounts_creditline_change", args=[line.pk])
        return format_html('<a href="{}">{}</a>', url, _("history / change limit"))


class FamilyPayerInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The phones that pay for the patient (added on /me/ or at the window: above)."""

    model = FamilyPayer
    fields = ["masked_phone", "added_at", "added_by", "removed_at"]
    readonly_fields = fields
    extra = 0

    @admin.display(description=_("family member's phone"))
    def masked_phone(self, payer):
        return payer.masked_phone


@admin.register(Patient)
class PatientAdmin(PatientNumbersSearchMixin, SimpleHistoryAdmin):
    """Staff without ``view_identity_number`` see the identity number masked, and neither the
    birth date (the digits the mask hides) nor the whole phone number."""

    search_fields = ["=citizen_card", "name"]
    search_help_text = _("Citizen card, whole mobile number, identity number or part of a name.")
    patient_path = ""
    list_filter = ["agreement__status", "id_type", "resident_of_region"]
    list_select_related = ["agreement"]
    inlines = [CreditLineInline, FamilyPayerInline]
    readonly_fields = [
        "birth_date",
        "sex",
        "masked_id",
        "masked_phone",
        "agreement_link",
        "created_at",
    ]

    def get_fields(self, request, obj=None):
        if sees_identity(request.user):
            identity = ["id_number", "birth_date", "sex", "citizen_card", "phone"]
        else:
            identity = ["masked_id", "sex", "citizen_card", "masked_phone"]
        return ["name", "id_type", *identity, "resident_of_region", "agreement_link"]

    def get_list_display(self, request):
        phone = "phone" if sees_identity(request.user) else "masked_phone"
        return ["name", "citizen_card", "masked_id", phone, "agreement_status"]

    @admin.display(description=_("identity number"))
    def masked_id(self, patient):
        return patient.masked_id_number

    @admin.display(description=_("mobile phone"))
    def masked_phone(self, patient):
        return patient.masked_phone

    @admin.display(description=_("agreement"), ordering="agreement__status")
    def agreement_status(self, patient):
        agreement = getattr(patient, "agreement", None)
        return agreement.get_status_display() if agreement else "-"

    @admin.display(description=_("agreement"))
    def agreement_link(self, patient):
        agreement = getattr(patient, "agreement", None)
        if not agreement:
            return "-"
        url = reverse("admin:accounts_creditagreement_change", args=[agreement.pk])
        return format_html('<a href="{}">{}</a>', url, agreement.get_status_display())

    def has_delete_permission(self, request, obj=None):
        return False  # patients are records; agreements end by termination

    def get_urls(self):
        return [
            path(
                "desk/",
                self.admin_site.admin_view(lambda r: admin_views.desk_view(r, self)),
                name="accounts_patient_desk",
            ),
            path(
                "<int:object_id>/family/",
                self.admin_site.admin_view(
                    lambda r, object_id: admin_views.family_payer_add_view(r, self, object_id)
                ),
                name="accounts_patient_family",
            ),
            path(
                "<int:object_id>/sign/",
                self.admin_site.admin_view(
                    lambda r, object_id: admin_views.patient_sign_view(r, self, object_id)
                ),
                name="accounts_patient_sign",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        # New patients are signed up at the desk, patient and agreement together.
        return redirect("admin:accounts_patient_desk")

    def save_model(self, request, obj, form, change):
        services.patient_update(patient=obj, actor=request.user)

    def history_view(self, request, object_id, extra_context=None):
        # The history lists old and new values: identity numbers in full.
        if not sees_identity(request.user):
            raise PermissionDenied
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if not sees_identity(request.user):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class AgreementEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = AgreementEvent
    fields = ["created_at", "transition", "from_status", "to_status", "actor", "reason"]
    readonly_fields = fields
    extra = 0


@admin.register(CreditAgreement)
class CreditAgreementAdmin(PatientNumbersSearchMixin, admin.ModelAdmin):
    list_display = ["patient", "status", "institution", "channel", "signed_at"]
    list_filter = ["status", "channel", "institution"]
    search_fields = ["=patient__citizen_card", "patient__name"]
    search_help_text = _("Citizen card, whole mobile number or part of a name.")
    list_select_related = ["patient", "institution"]
    readonly_fields = [
        "patient",
        "status",
        "channel",
        "institution",
        "signed_by",
        "signed_at",
        "terms_version",
        "created_at",
    ]
    fields = readonly_fields
    inlines = [AgreementEventInline]
    change_form_template = "admin/accounts/creditagreement_change_form.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "<int:object_id>/print/",
                self.admin_site.admin_view(
                    lambda r, object_id: admin_views.agreement_print_view(r, self, object_id)
                ),
                name="accounts_creditagreement_print",
            ),
            path(
                "<int:object_id>/transition/<str:action>/",
                self.admin_site.admin_view(
                    lambda r, object_id, action: admin_views.agreement_action_view(
                        r, self, object_id, action
                    )
                ),
                name="accounts_creditagreement_action",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        agreement = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "agreement_actions": admin_views.agreement_actions(request.user, agreement),
        }
        return super().change_view(request, object_id, form_url, extra_context)


class CreditLimitChangeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CreditLimitChange
    fields = ["created_at", "old_limit", "new_limit", "source", "actor", "reason"]
    readonly_fields = fields
    extra = 0


@admin.register(CreditLine)
class CreditLineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["patient", "pool", "limit", "used", "available"]
    list_filter = ["pool"]
    search_fields = ["patient__citizen_card", "patient__name"]
    list_select_related = ["patient"]
    fields = ["patient", "pool", "limit", "used", "available", "updated_at"]
    readonly_fields = fields
    inlines = [CreditLimitChangeInline]
    change_form_template = "admin/accounts/creditline_change_form.html"

    @admin.display(description=_("available"))
    def available(self, line):
        return line.available

    def get_urls(self):
        return [
            path(
                "<int:object_id>/change-limit/",
                self.admin_site.admin_view(
                    lambda r, object_id: admin_views.limit_change_view(r, self, object_id)
                ),
                name="accounts_creditline_change_limit",
            ),
            *super().get_urls(),
        ]


@admin.register(CreditLimitChange)
class CreditLimitChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "credit_line", "old_limit", "new_limit", "source", "actor"]
    list_filter = ["source", "credit_line__pool"]
    search_fields = ["credit_line__patient__citizen_card", "credit_line__patient__name"]
    list_select_related = ["credit_line__patient", "actor"]


@admin.register(CreditScore)
class CreditScoreAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "citizen_card", "score", "source"]
    list_filter = ["source"]
    search_fields = ["citizen_card"]


@admin.register(CreditPolicy)
class CreditPolicyAdmin(SimpleHistoryAdmin):
    """One row: the numbers of the credit policy, changed by credit officers without a deploy."""

    fieldsets = [
        (_("Base limits (CNY)"), {"fields": ["outpatient_base", "inpatient_base"]}),
        (
            _("Repayment record"),
            {"fields": ["repayments_per_step", "step_ratio", "cap_multiplier"]},
        ),
        (_("Late repayments"), {"fields": ["late_cut_ratio", "floor_ratio"]}),
        (_("Credit score"), {"fields": ["score_floor", "online_score_floor", "score_bands"]}),
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        return redirect("admin:accounts_creditpolicy_change", CreditPolicy.current().pk)
