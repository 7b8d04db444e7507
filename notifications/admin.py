from django.contrib import admin

from accounts.admin import ReadOnlyAdminMixin
from notifications.models import SmsMessage


@admin.register(SmsMessage)
class SmsMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The outbox for support staff: what was sent to whom, and what became of it."""

    list_display = ["created_at", "to", "template", "status", "attempts", "sent_at"]
    list_filter = ["status", "template"]
    search_fields = ["to", "dedup_key", "provider_message_id"]
    date_hierarchy = "created_at"
    fields = [
        "to",
        "template",
        "language",
        "body",
        "status",
        "attempts",
        "last_error",
        "provider_message_id",
        "dedup_key",
        "created_at",
        "sent_at",
        "delivered_at",
    ]
    readonly_fields = fields
