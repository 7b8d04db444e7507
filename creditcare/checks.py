from django.conf import settings
from django.core.checks import Warning, register


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
