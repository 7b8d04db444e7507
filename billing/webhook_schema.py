"""The webhooks in the HIS API's OpenAPI schema (``SPECTACULAR_SETTINGS["WEBHOOKS"]``, which
takes OpenAPI 3.1): for each event type, the request CreditCare posts to an endpoint and the
answers that count. Billing's, as the events are. The body is the envelope of
``webhooks.services.event_body``; its ``data`` is what the services put in it: a bill as
``BillOutput`` shows it (``billing.events``), with an invoice (``invoice_issue``) or a refund
(``refunds._refund_done``), or an agreement (``webhooks.services.agreements_moved``).
tests/billing/test_webhook_schema.py checks bodies the code built against these."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import OpenApiResponse, OpenApiWebhook, extend_schema
from rest_framework import serializers

from accounts.models import AgreementStatus
from billing.visits.api.serializers import BillOutput, money_out
from webhooks.models import EventType
from webhooks.signing import HEADER, TOLERANCE_SECONDS

# --- data, one serializer per shape ---------------------------------------------------------


class InvoiceData(serializers.Serializer):
    number = serializers.CharField(help_text="The invoice's number: YD and 10 digits.")
    issued_at = serializers.DateTimeField()


class RefundData(serializers.Serializer):
    id = serializers.IntegerField()
    payment_id = serializers.IntegerField(help_text="The payment the money went back from.")
    amount = money_out()
    for_charge = serializers.BooleanField(
        help_text=(
            "True: it gives back the self-pay part of a charge voided after the bill was paid "
            "(bill money). False: it hands back an overpayment or a duplicate payment."
        )
    )


class AgreementData(serializers.Serializer):
    id = serializers.IntegerField()
    citizen_card = serializers.CharField()
    status = serializers.ChoiceField(choices=AgreementStatus.choices)
    for_overdue = serializers.BooleanField(
        help_text=(
            "On agreement.suspended, true when the nightly sweep suspended it for overdue bills "
            "(it is reactivated by itself once they are paid), false when staff did. Always "
            "false on agreement.reactivated."
        )
    )


class BillEventData(serializers.Serializer):
    bill = BillOutput(help_text="The bill as GET /api/v1/bills/{bill_id}/ shows it.")


class InvoiceEventData(BillEventData):
    invoice = InvoiceData()


class RefundEventData(BillEventData):
    refund = RefundData()


class AgreementEventData(serializers.Serializer):
    agreement = AgreementData()


# --- the envelope ----------------------------------------------------------------------------


class EventTypeField(serializers.CharField):
    """An event's ``type``, which in each webhook's schema is one value."""

    def __init__(self, event_type: str, **kwargs):
        self.event_type = event_type
        super().__init__(**kwargs)


class EventTypeFieldScheme(OpenApiSerializerFieldExtension):
    # A const rather than a one-value enum: the enum hook would name seven enums "type".
    target_class = EventTypeField

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "const": str(self.target.event_type)}


def _event(event_type: EventType, data: type[serializers.Serializer]) -> type:
    """The envelope of ``event_type``'s events (``BillPaidEvent`` for ``bill.paid``), its
    fields in ``event_body``'s order."""
    name = event_type.value.replace(".", "_").title().replace("_", "") + "Event"
    fields = {
        "id": serializers.UUIDField(
            help_text=(
                "The event's id, as in the CreditCare-Event-Id header. An event may arrive "
                "more than once (a 2xx lost on its way back): de-duplicate by it."
            )
        ),
        "type": EventTypeField(event_type),
        "created": serializers.DateTimeField(help_text="When the event happened."),
        "data": data(),
    }
    return type(name, (serializers.Serializer,), {"__module__": __name__, **fields})


# --- the webhooks ----------------------------------------------------------------------------

ANSWERS = {
    "2XX": OpenApiResponse(
        description=(
            f"Received: the event is not sent again. Answer within "
            f"{settings.WEBHOOK_TIMEOUT_SECONDS} seconds (the body is ignored) and do the "
            f"work afterwards."
        )
    ),
    "default": OpenApiResponse(
        description=(
            f"Anything else (another status, a redirect, a timeout, no connection) is a "
            f"failure: the same event (same id, same body, a new signature) is sent again "
            f"after 1, 4, 16 and 64 minutes, about 4 hours, then every 12 hours, for "
            f"{settings.WEBHOOK_RETRY_FOR.total_seconds() / 3600:.0f} hours. Then it is given "
            f"up and the endpoint is disabled until an administrator turns it on again."
        )
    ),
}

ABOUT_ORDER = (
    " The events of one bill reach an endpoint in the order they happened: a later one waits "
    "while an earlier one is being retried."
)


def _webhook(
    event_type: EventType, data: type[serializers.Serializer], *, summary: str, when: str
) -> OpenApiWebhook:
    about_bill = ABOUT_ORDER if issubclass(data, BillEventData) else ""
    return OpenApiWebhook(
        name=event_type.value,
        decorator=extend_schema(
            summary=summary,
            description=when + about_bill,
            request={"application/json": _event(event_type, data)},
            responses=ANSWERS,
        ),
    )


bill_paid = _webhook(
    EventType.BILL_PAID,
    BillEventData,
    summary="A bill is paid",
    when="A bill is paid in full, online or at a window.",
)
invoice_issued = _webhook(
    EventType.INVOICE_ISSUED,
    InvoiceEventData,
    summary="A bill's invoice is issued",
    when="A paid bill's invoice is issued (after its bill.paid).",
)
bill_overdue = _webhook(
    EventType.BILL_OVERDUE,
    BillEventData,
    summary="A bill is overdue",
    when="The nightly sweep finds a bill unpaid past its due date.",
)
bill_written_off = _webhook(
    EventType.BILL_WRITTEN_OFF,
    BillEventData,
    summary="A bill is written off",
    when="Finance gives up what is left of an overdue bill.",
)
refund_succeeded = _webhook(
    EventType.REFUND_SUCCEEDED,
    RefundEventData,
    summary="A refund succeeded",
    when="Money is back with the patient: the channel made the refund, or a window paid it out.",
)
agreement_suspended = _webhook(
    EventType.AGREEMENT_SUSPENDED,
    AgreementEventData,
    summary="An agreement is suspended",
    when=(
        "A patient may open no new visit with credit, at any institution: their bills are "
        "overdue, or staff suspended the agreement. Sent to every institution that wants it."
    ),
)
agreement_reactivated = _webhook(
    EventType.AGREEMENT_REACTIVATED,
    AgreementEventData,
    summary="An agreement is reactivated",
    when=(
        "A suspended patient may open visits with credit again. Sent to every institution that "
        "wants it."
    ),
)


# --- what drf-spectacular leaves out ----------------------------------------------------------


def _headers(event_type: str) -> list[dict]:
    return [
        {
            "name": HEADER,
            "in": "header",
            "required": True,
            "description": (
                "`t=<timestamp>,v1=<signature>`: the timestamp in Unix seconds, and the hex "
                "HMAC-SHA256, under the endpoint's signing secret, of the timestamp, a dot and "
                "the body's bytes exactly as received. Check it before trusting the body, in "
                "constant time, and refuse a timestamp more than "
                f"{TOLERANCE_SECONDS // 60} minutes from your clock (a replay)."
            ),
            "schema": {"type": "string", "pattern": r"^t=[0-9]+,v1=[0-9a-f]{64}$"},
            "example": "t=1764633600,v1=5f2b" + "0" * 60,
        },
        {
            "name": "CreditCare-Event-Id",
            "in": "header",
            "required": True,
            "description": "The event's id, as `id` in the body.",
            "schema": {"type": "string", "format": "uuid"},
        },
        {
            "name": "CreditCare-Event-Type",
            "in": "header",
            "required": True,
            "description": "The event's type, as `type` in the body.",
            "schema": {"type": "string", "const": event_type},
        },
    ]


def postprocess_webhooks(result, generator, request, public):
    """What drf-spectacular 0.30 leaves out of the webhooks, before its enum hook runs:

    * each webhook's headers (``services._post``): it takes only the body and the answers
      from ``extend_schema``;
    * the components only the webhooks use: ``components`` is built before the webhooks, and
      the enum hook reads it (it builds it again after);
    * the body's fields that are ``readOnly`` in a response (``BillOutput``'s ``id``): a
      webhook's body is a request, where a read-only field is one not sent, and the docs
      leave it out; we send it (``BillOutput`` appears only in responses and webhooks, the
      API's requests having components of their own, ``COMPONENT_SPLIT_REQUEST``)."""
    webhooks = result.get("webhooks", {})
    for event_type, path_item in webhooks.items():
        for operation in path_item.values():
            operation["parameters"] = _headers(event_type)
    result["components"] = generator.registry.build(spectacular_settings.APPEND_COMPONENTS)
    schemas = result["components"]["schemas"]
    for name in _reached(webhooks, schemas):
        _drop_read_only(schemas[name])
    return result


REF = "#/components/schemas/"


def _refs(node) -> list[str]:
    """The component names ``node`` refers to."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        own = [ref.removeprefix(REF)] if ref.startswith(REF) else []
        return own + [name for value in node.values() for name in _refs(value)]
    if isinstance(node, list):
        return [name for item in node for name in _refs(item)]
    return []


def _reached(webhooks: dict, schemas: dict) -> set[str]:
    """The components the webhooks' bodies use, directly or through one another."""
    reached: set[str] = set()
    to_visit = _refs([o.get("requestBody") for item in webhooks.values() for o in item.values()])
    while to_visit:
        name = to_visit.pop()
        if name not in reached:
            reached.add(name)
            to_visit += _refs(schemas[name])
    return reached


def _drop_read_only(node) -> None:
    if isinstance(node, dict):
        node.pop("readOnly", None)
        for value in node.values():
            _drop_read_only(value)
    elif isinstance(node, list):
        for item in node:
            _drop_read_only(item)
