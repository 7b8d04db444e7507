"""Staff roles: one Django group each, with the least permissions its work needs.

The groups are created and kept in sync by data migrations (``sync_roles``): a migration
that adds a permission a role needs calls it again.
"""

WINDOW_STAFF = "Window staff"
COLLECTION_STAFF = "Collection staff"
FINANCE = "Finance"
CREDIT_OFFICERS = "Credit officers"
MANAGEMENT = "Management"
INTEGRATION = "Integration staff"

_READ = [
    "accounts.view_institution",
    "accounts.view_patient",
    "accounts.view_creditagreement",
    "accounts.view_creditline",
    "accounts.view_creditlimitchange",
    "billing.view_visit",
    "billing.view_charge",
    "billing.view_bill",
    "billing.view_invoice",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    # Sign people up, correct their details, suspend or end agreements; take payments, print
    # invoices and pay out refunds at the window. No limits.
    WINDOW_STAFF: [
        *_READ,
        "accounts.add_patient",
        "accounts.change_patient",
        "accounts.view_identity_number",
        "accounts.view_familypayer",
        "accounts.add_familypayer",
        "accounts.sign_agreement",
        "accounts.suspend_agreement",
        "accounts.terminate_agreement",
        "billing.view_payment",
        "billing.view_refund",
        "billing.take_window_payment",
        "billing.print_invoice",
        "billing.pay_out_refund",
        "billing.close_till",
    ],
    # Work overdue cases: read people and their credit, identity numbers stay masked; no
    # identity edits, no limits, no write-offs.
    COLLECTION_STAFF: [
        *_READ,
        "billing.view_collectioncase",
        "billing.work_collectioncase",
        "billing.view_caseevent",
        "billing.view_promisetopay",
        "billing.view_paymentplan",
        "billing.view_payment",
    ],
    # Payments, refunds (asking a channel again about one whose outcome is unknown),
    # e-invoices (asking the platform again), reconciliation, write-offs.
    FINANCE: [
        *_READ,
        "accounts.view_creditscore",
        "billing.view_creditentry",
        "billing.view_payment",
        "billing.view_refund",
        "billing.query_refund",
        "billing.view_invoice",
        "billing.view_einvoice",
        "billing.view_einvoiceevent",
        "billing.retry_einvoice",
        "billing.view_strongcheckattempt",
        "billing.view_collectioncase",
        "billing.view_caseevent",
        "billing.write_off_bill",
        "billing.view_reconciliationrun",
        "billing.view_reconciliationdifference",
        "billing.view_differenceevent",
        "billing.resolve_difference",
        "billing.view_tillcount",
        "billing.view_settlementstatement",
        "billing.pay_out_settlement",
        "billing.view_alert",
        "billing.acknowledge_alert",
        "billing.view_dailyvisitcount",
        "billing.view_reports",
    ],
    # The credit policy and manual limit changes, with reasons.
    CREDIT_OFFICERS: [
        *_READ,
        "accounts.view_creditscore",
        "billing.view_creditentry",
        "accounts.change_credit_limit",
        "accounts.view_creditpolicy",
        "accounts.change_creditpolicy",
        "billing.view_dailyvisitcount",
        "billing.view_reports",
    ],
    # The region's figures, read only: the reports page, nothing about any one person.
    MANAGEMENT: ["billing.view_reports"],
    # An institution's IT staff: its webhook endpoints and their deliveries (their own
    # institution's only, webhooks.admin), nothing about patients beyond what was sent.
    INTEGRATION: [
        "accounts.view_institution",
        "webhooks.view_webhookendpoint",
        "webhooks.add_webhookendpoint",
        "webhooks.change_webhookendpoint",
        "webhooks.view_webhookdelivery",
    ],
}


def sync_roles(apps, schema_editor=None) -> None:
    """Create the groups and set exactly the permissions above (for a data migration)."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        # Permissions of apps not migrated yet are skipped here and added by their own
        # migration's call; a test checks that every role ends with all of its permissions.
        permissions = [
            permission
            for name in names
            for permission in Permission.objects.filter(
                content_type__app_label=name.split(".")[0], codename=name.split(".")[1]
            )
        ]
        group.permissions.set(permissions)
