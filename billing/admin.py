"""Billing in the admin. Each part registers its own models (``visits.admin``,
``payments.admin``, ``payments.reconciliation_admin``, ``payments.settlement_admin``,
``collections.admin``, ``einvoices.admin``); the credit ledger is billing's own."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdminMixin

# Imported for their registrations.
from billing.collections import admin as collections_admin  # noqa: F401
from billing.einvoices import admin as einvoices_admin  # noqa: F401
from billing.ledger import actor_label
from billing.models import CreditEntry
from billing.payments import admin as payments_admin  # noqa: F401
from billing.payments import (
    reconciliation_admin,  # noqa: F401
    settlement_admin,  # noqa: F401
)
from billing.visits import admin as visits_admin  # noqa: F401


@admin.register(CreditEntry)
class CreditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "created_at", "credit_line", "kind", "amount", "actor_shown"]
    list_filter = ["kind"]
    search_fields = ["credit_line__patient__citizen_card"]
    list_select_related = ["credit_line__patient"]
    fields = [
        "created_at",
        "credit_line",
        "kind",
        "amount",
        "visit",
        "charge",
        "bill",
        "payment",
        "actor_shown",
    ]
    readonly_fields = fields

    @admin.display(description=_("by"))
    def actor_shown(self, entry: CreditEntry) -> str:
        return actor_label(entry.actor)
