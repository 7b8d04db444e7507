import logging
import uuid

from notifications.backends import Sent

logger = logging.getLogger("notifications.sms")


class ConsoleBackend:
    """Development: the SMS goes to the log (with its link, for a demo user to click)."""

    def send(self, *, to: str, body: str, reference: str) -> Sent:
        logger.warning("SMS to %s:\n%s", to, body)
        return Sent(provider_message_id=f"console-{uuid.uuid4().hex}")

    def find_sent(self, *, to: str, body: str, since) -> Sent | None:
        return None
