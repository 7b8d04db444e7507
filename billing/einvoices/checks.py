"""System checks of the e-invoice platform's settings (registered by billing's ``ready``)."""

from django.conf import settings
from django.core.checks import Error, Warning, register

from billing.einvoices.providers import PROVIDERS


@register()
def einvoice_provider_known(app_configs, **kwargs):
    provider = settings.EINVOICE_PROVIDER
    if provider and provider not in PROVIDERS:
        return [
            Error(
                f"EINVOICE_PROVIDER names no e-invoice platform: {provider!r}.",
                hint=f"Platforms: {', '.join(PROVIDERS)} (or empty for none).",
                id="creditcare.E005",
            )
        ]
    if provider == "sandbox" and not settings.SANDBOX_ENABLED:
        return [
            Error(
                "The sandbox e-invoice platform issues play invoices; it is not used where the "
                "sandbox is off.",
                hint="Set EINVOICE_PROVIDER to the province's platform (or empty).",
                id="creditcare.E006",
            )
        ]
    return []


@register(deploy=True)
def einvoice_provider_configured(app_configs, **kwargs):
    if settings.EINVOICE_PROVIDER:
        return []
    return [
        Warning(
            "No e-invoice platform is configured (EINVOICE_PROVIDER): paid bills get no "
            "government e-invoice.",
            id="creditcare.W003",
        )
    ]
