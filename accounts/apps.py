from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Patients and credit")

    def ready(self) -> None:
        from django.db.models import Field, ForeignObject

        from creditcare import checks  # noqa: F401  (registers the deploy checks)
        from creditcare.lookups import InArray

        for fields in (Field, ForeignObject):  # relations have lookups of their own
            fields.register_lookup(InArray)
