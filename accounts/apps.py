from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Patients and credit")

    def ready(self) -> None:
        from creditcare import checks  # noqa: F401  (registers the deploy checks)
