from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured


@register(deploy=True)
def secret_key_from_environment(app_configs, **kwargs):
    if settings.SECRET_KEY_FROM_ENVIRONMENT:
        return []
    return [
        Warning(
            "SECRET_KEY is not set in the environment; a key generated on this machine is used.",
            hint="Set SECRET_KEY (the same on every web server and worker) in production.",
            id="creditcare.W001",
        )
    ]


@register(deploy=True)
def identity_keys_from_environment(app_configs, **kwargs):
    if settings.IDENTITY_KEYS_FROM_ENVIRONMENT:
        return []
    return [
        Error(
            "IDENTITY_ENCRYPTION_KEYS and IDENTITY_HASH_KEY are not both set in the environment; "
            "keys generated on this machine encrypt the identity numbers.",
            hint="Set both (the same on every web server and worker) and keep them safe: "
            "without them the stored identity numbers cannot be read.",
            id="creditcare.E003",
        )
    ]


@register(deploy=True)
def no_sandbox_channel(app_configs, **kwargs):
    if not settings.SANDBOX_ENABLED:
        return []
    return [
        Error(
            "The sandbox payment channel (play money) is enabled: anyone could 'pay' a bill.",
            hint="Unset SANDBOX_ENABLED (and DEBUG) in production.",
            id="creditcare.E002",
        )
    ]


@register()
def realname_provider_known(app_configs, **kwargs):
    from accounts.realname import realname_provider

    try:
        realname_provider()
    except ImproperlyConfigured as error:
        return [
            Error(
                str(error),
                hint="Set REALNAME_PROVIDER to a real service, or leave it empty; the "
                "sandbox's only where the sandbox is on.",
                id="creditcare.E007",
            )
        ]
    return []


@register()
def credit_score_provider_configured(app_configs, **kwargs):
    from accounts.scoring import get_provider

    try:
        get_provider()
    except ImproperlyConfigured as error:
        return [Error(str(error), id="creditcare.E001")]
    return []


@register()
def otp_required_roles_known(app_configs, **kwargs):
    from accounts.roles import ROLE_PERMISSIONS

    unknown = [name for name in settings.OTP_REQUIRED_ROLES if name not in ROLE_PERMISSIONS]
    if not unknown:
        return []
    return [
        Error(
            f"OTP_REQUIRED_ROLES names no role: {', '.join(unknown)}.",
            hint=f"Roles are the groups {', '.join(ROLE_PERMISSIONS)}.",
            id="creditcare.E004",
        )
    ]


@register(deploy=True)
def otp_required_for_some_role(app_configs, **kwargs):
    if settings.OTP_REQUIRED_ROLES:
        return []
    return [
        Warning(
            "No staff role must sign in with an authenticator code (OTP_REQUIRED_ROLES is empty).",
            hint="Unset OTP_REQUIRED_ROLES (Finance and Credit officers) or name the roles.",
            id="creditcare.W002",
        )
    ]
