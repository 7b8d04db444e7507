"""The webhooks' tasks, defined with the services that enqueue them (``webhooks.services``)
and registered under these names here."""

from webhooks.services import deliver_due_webhooks, deliver_webhook

__all__ = ["deliver_due_webhooks", "deliver_webhook"]
