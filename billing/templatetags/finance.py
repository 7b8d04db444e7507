"""Finance's part of the admin home page: the alerts still active."""

from django import template

from billing.models import Alert

register = template.Library()


@register.simple_tag
def active_alerts(user) -> list[Alert]:
    """The active alerts, newest first, for someone who may see them."""
    if not user.has_perm("billing.view_alert"):
        return []
    return list(Alert.objects.filter(cleared_at=None).select_related("acknowledged_by")[:20])
