from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from billing.collections import reminders  # noqa: F401 - registers their send check
        from creditcare.schedule import install_default_schedule

        post_migrate.connect(install_default_schedule, sender=self)
