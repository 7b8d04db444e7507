from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks to the hospitals' systems")

    def ready(self) -> None:
        from accounts.services import transition_listeners
        from webhooks.services import agreements_moved

        transition_listeners.append(agreements_moved)
