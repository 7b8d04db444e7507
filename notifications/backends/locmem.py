import uuid

from notifications.backends import Sent

# What "the phone network" received, for tests: [{"to", "body", "reference", "sid"}].
outbox: list[dict] = []


class LocmemBackend:
    def send(self, *, to: str, body: str, reference: str) -> Sent:
        sid = f"locmem-{uuid.uuid4().hex}"
        outbox.append({"to": to, "body": body, "reference": reference, "sid": sid})
        return Sent(provider_message_id=sid)

    def find_sent(self, *, to: str, body: str, since) -> Sent | None:
        for sent in outbox:
            if sent["to"] == to and sent["body"] == body:
                return Sent(provider_message_id=sent["sid"])
        return None
