from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from accounts.services import termination_blockers
        from billing.collections import reminders  # noqa: F401 - registers their send check
        from billing.einvoices import checks  # noqa: F401 - registers the platform's checks
        from billing.visits.selectors import visits_or_bills_open
        from creditcare.schedule import install_default_schedule

        termination_blockers.append(visits_or_bills_open)
        post_migrate.connect(install_default_schedule, sender=self)
