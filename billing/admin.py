"""Billing in the admin. Each part registers its own models (``visits.admin``,
``payments.admin``, ``collections.admin``); the credit ledger is billing's own."""

from django.contrib import admin

from accounts.admin import ReadOnlyAdminMixin

# Imported for their registrations.
from billing.collections import admin as collections_admin  # noqa: F401
from billing.models import CreditEntry
from billing.payments import admin as payments_admin  # noqa: F401
from billing.visits import admin as visits_admin  # noqa: F401


@admin.register(CreditEntry)
class CreditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["pk", "created_at", "credit_line", "kind", "amount", "actor"]
    list_filter = ["kind"]
    search_fields = ["credit_line__patient__citizen_card"]
    list_select_related = ["credit_line__patient"]
