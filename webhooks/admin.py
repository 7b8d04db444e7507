from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.admin import ReadOnlyAdminMixin
from accounts.models import Institution
from webhooks import services
from webhooks.models import EventType, WebhookDelivery, WebhookEndpoint


def of_own_institution(request, queryset, institution: str):
    """An institution's IT staff see its endpoints and deliveries only; superusers all."""
    if request.user.is_superuser:
        return queryset
    return queryset.filter(**{institution: request.user.institution_id})


class EndpointForm(forms.ModelForm):
    url = forms.URLField(label=gettext_lazy("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["institution", "url", "events", "contact_phone", "is_active"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not settings.DEBUG and not url.startswith("https://"):
            raise forms.ValidationError(_("Use an https:// address: events carry patients' bills."))
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """An institution's endpoints: created here (the signing secret is shown once), turned
    on again here after the system has disabled one that kept failing."""

    form = EndpointForm
    list_display = ["institution", "url", "is_active", "disabled_reason", "created_at"]
    list_filter = ["is_active", "institution"]

    def get_list_filter(self, request):
        return self.list_filter if request.user.is_superuser else ["is_active"]

    search_fields = ["url", "institution__name", "institution__code"]
    readonly_fields = ["disabled_reason", "created_at"]

    def get_queryset(self, request):
        return of_own_institution(request, super().get_queryset(request), "institution")

    def get_changeform_initial_data(self, request):
        return {"institution": request.user.institution_id}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "institution" and not request.user.is_superuser:
            kwargs["queryset"] = Institution.objects.filter(pk=request.user.institution_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            if obj.is_active:
                obj.disabled_reason = ""
            obj.save()
            return
        endpoint, secret = services.endpoint_create(
            institution=obj.institution,
            url=obj.url,
            events=form.cleaned_data["events"],
            contact_phone=obj.contact_phone,
        )
        obj.pk, obj._state.adding = endpoint.pk, False
        messages.warning(
            request,
            _("Copy the signing secret now, it is not shown again: %(secret)s")
            % {"secret": secret},
        )

    def has_delete_permission(self, request, obj=None):
        return False  # its deliveries stay


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Each event to each endpoint and what it answered last; resend from the list."""

    list_display = [
        "created_at",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "response_status",
        "next_attempt_at",
    ]
    list_filter = ["status", "event__type", "endpoint__institution"]

    def get_list_filter(self, request):
        return self.list_filter if request.user.is_superuser else ["status", "event__type"]

    list_select_related = ["event", "endpoint__institution"]
    fields = [
        "event",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_attempt_at",
        "next_attempt_at",
        "response_status",
        "response_body",
        "error",
        "delivered_at",
        "data",
    ]
    readonly_fields = fields
    actions = ["resend"]

    def get_queryset(self, request):
        return of_own_institution(request, super().get_queryset(request), "endpoint__institution")

    @admin.display(description=gettext_lazy("event type"), ordering="event__type")
    def event_type(self, delivery):
        return delivery.event.get_type_display()

    @admin.display(description=gettext_lazy("what was sent"))
    def data(self, delivery):
        # The bytes as sent (JSON): a value, shown as it is.
        return format_html(
            '<pre class="sent-body"><bdi>{}</bdi></pre>',
            services.event_body(delivery.event).decode(),
        )

    @admin.action(description=gettext_lazy("Send the selected deliveries again"))
    def resend(self, request, queryset):
        for delivery in queryset:
            services.delivery_resend(delivery=delivery)
        messages.success(
            request, _("%(n)d delivery(ies) will be sent again.") % {"n": queryset.count()}
        )
