"""The HIS API (``/api/v1/``). Thin: validate, call a service or selector, shape the answer."""

import functools

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.visits import selectors, services
from billing.visits.api.errors import ERROR_CODES, error_response
from billing.visits.api.serializers import (
    BILL_PAGE_MAX,
    BILL_PAGE_SIZE,
    BillOutput,
    BillPageOutput,
    BillQuery,
    ChargeInput,
    ChargesOutput,
    CitizenCardQuery,
    CloseInput,
    CreditLimitExceededSerializer,
    EligibilityOutput,
    ErrorSerializer,
    InterimInput,
    InterimOutput,
    VisitCountInput,
    VisitCountOutput,
    VisitOpenInput,
    VisitOutput,
    VoidInput,
)
from billing.visits.idempotency import (
    IDEMPOTENCY_KEY_MAX_LENGTH,
    IDEMPOTENCY_KEY_PATTERN,
    Begun,
    Outcome,
    idempotency_begin,
    idempotency_finish,
    idempotency_key_valid,
    request_fingerprint,
)
from creditcare.errors import DomainError


def errors(*codes: str) -> dict[int, OpenApiResponse]:
    """An operation's error answers by status, each naming its codes (``ERROR_CODES``): those
    of every request (a bad Host, no key, an Accept other than JSON) and ``codes``."""
    by_status: dict[int, list[str]] = {}
    for code in ("bad_request", "unauthenticated", "not_acceptable", *codes):
        by_status.setdefault(ERROR_CODES[code][0], []).append(code)
    return {
        status_code: OpenApiResponse(
            CreditLimitExceededSerializer if status_code == 402 else ErrorSerializer,
            description="\n".join(
                f"* `{code}`: {ERROR_CODES[code][1]}" for code in codes_of_status
            ),
        )
        for status_code, codes_of_status in sorted(by_status.items())
    }


# The codes of any POST: its body, its Idempotency-Key.
POST_CODES = (
    "invalid_input",
    "malformed_json",
    "payload_too_large",
    "unsupported_media_type",
    "invalid_idempotency_key",
    "idempotency_key_reused",
    "idempotency_key_in_flight",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {
        "type": "string",
        "minLength": 1,
        "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
        "pattern": IDEMPOTENCY_KEY_PATTERN,
    },
    OpenApiParameter.HEADER,
    required=False,
    description="A unique string (a UUID) per logical request: 1 to 255 printable ASCII "
    "characters, no space at either end (else 400 invalid_idempotency_key). A retry with the "
    "same key and body gets the first answer again (header Idempotent-Replayed: true) with no "
    "second effect; the same key with another body gets 422 idempotency_key_reused; while the "
    "first is running, 409 idempotency_key_in_flight. Keys are kept at least 24 hours, per "
    "institution.",
)


def answer_of_kept(begun: Begun) -> Response:
    """The answer to a request whose Idempotency-Key is already kept: the first answer again,
    or why not (REUSED, IN_FLIGHT)."""
    if begun.outcome is Outcome.REPLAY:
        return Response(
            begun.record.response_body,
            status=begun.record.response_status,
            headers={"Idempotent-Replayed": "true"},
        )
    if begun.outcome is Outcome.REUSED:
        raise DomainError(
            "idempotency_key_reused",
            _("This Idempotency-Key was used for a different request."),
        )
    raise DomainError(
        "idempotency_key_in_flight",
        _("A request with this Idempotency-Key is still being processed; retry shortly."),
    )


def idempotent(post):
    """Run a POST handler at most once per ``Idempotency-Key`` (``billing.visits.idempotency``)."""

    @functools.wraps(post)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return post(view, request, *args, **kwargs)
        if not idempotency_key_valid(key):
            raise DomainError(
                "invalid_idempotency_key",
                _(
                    "Idempotency-Key must be 1 to 255 printable ASCII characters, with no "
                    "space at either end."
                ),
            )
        fingerprint = request_fingerprint(request.method, request.path, request.body)
        # The key, the effects and the answer commit together; a fault of ours (an exception
        # error_response does not map) rolls back all three, so a retry runs afresh.
        with transaction.atomic():
            begun = idempotency_begin(
                institution=request.user.institution, key=key, fingerprint=fingerprint
            )
            if begun.outcome is not Outcome.PROCEED:
                return answer_of_kept(begun)
            try:
                response = post(view, request, *args, **kwargs)
            except Exception as exc:
                response = error_response(exc)
                if response is None:
                    raise
            idempotency_finish(record=begun.record, status=response.status_code, body=response.data)
        return response

    return wrapper


class HisApiView(APIView):
    """Base of the HIS API views: the body size limit applies to every request."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method == "POST":
            request.body  # noqa: B018 - raises RequestDataTooBig over the limit

    def validated(self, serializer_class, data) -> dict:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def rendered(self, serializer_class, instance) -> dict:
        return serializer_class(instance).data

    def visit_response(self, visit_id: int, status_code: int = status.HTTP_200_OK) -> Response:
        visit = selectors.visit_detail(visit_id=visit_id, institution=self.request.user.institution)
        return Response(self.rendered(VisitOutput, visit), status=status_code)


class EligibilityView(HisApiView):
    @extend_schema(
        operation_id="eligibility",
        summary="Can this patient be treated on credit now?",
        parameters=[CitizenCardQuery],
        responses={200: EligibilityOutput, **errors("invalid_input")},
    )
    def get(self, request):
        query = self.validated(CitizenCardQuery, request.query_params)
        result = selectors.eligibility(citizen_card=query["citizen_card"])
        return Response(self.rendered(EligibilityOutput, result))


class VisitListView(HisApiView):
    @extend_schema(
        operation_id="visit_open",
        summary="Open a visit for a patient with an active agreement",
        request=VisitOpenInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: OpenApiResponse(VisitOutput, description="Opened."),
            200: OpenApiResponse(VisitOutput, description="Already open (same his_visit_id)."),
            **errors(
                *POST_CODES,
                "invalid_started_at",
                "unknown_card",
                "no_agreement",
                "agreement_pending",
                "agreement_suspended",
                "agreement_terminated",
                "his_visit_id_conflict",
            ),
        },
    )
    @idempotent
    def post(self, request):
        data = self.validated(VisitOpenInput, request.data)
        visit, created = services.visit_open(
            institution=request.user.institution, api_key=request.auth, **data
        )
        return self.visit_response(
            visit.pk, status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class VisitDetailView(HisApiView):
    @extend_schema(
        operation_id="visit_read",
        summary="A visit with its running bill",
        responses={200: VisitOutput, **errors("not_found", "visit_not_found")},
    )
    def get(self, request, visit_id: int):
        visit = selectors.visit_detail(visit_id=visit_id, institution=request.user.institution)
        if visit is None:
            raise DomainError("visit_not_found", _("No such visit at your institution."))
        return Response(self.rendered(VisitOutput, visit))


class ChargesSchema(AutoSchema):
    """The body of a charges request: a charge, or a list of 1 to API_MAX_CHARGES_PER_REQUEST
    (``charge_lines``), and required. drf-spectacular has no declaration for such a body (its
    PolymorphicProxySerializer takes no list bounds and leaves the body optional), hence this
    override of its method for a request body's schema."""

    def _get_request_for_media_type(self, serializer, direction="request"):
        charge = self.resolve_serializer(ChargeInput, direction).ref
        many = {
            "type": "array",
            "items": charge,
            "minItems": 1,
            "maxItems": settings.API_MAX_CHARGES_PER_REQUEST,
        }
        return {"oneOf": [charge, many]}, True


class ChargesView(HisApiView):
    schema = ChargesSchema()

    @extend_schema(
        operation_id="charges_post",
        summary="Post one charge or a list (all or nothing)",
        description="Each charge's self_pay_estimate (the whole amount if absent) is held "
        "against the visit's pool. A his_line_id already posted with the same content is "
        "skipped (a retry); with other content, 409. Answers with the visit's running totals "
        "and the charges of the request.",
        request=ChargeInput,  # or a list of them (ChargesSchema)
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: OpenApiResponse(ChargesOutput, description="Posted."),
            200: OpenApiResponse(ChargesOutput, description="Nothing new (all posted before)."),
            **errors(
                *POST_CODES,
                "not_found",
                "visit_not_found",
                "duplicate_his_line_id",
                "amount_mismatch",
                "self_pay_estimate_exceeds_amount",
                "his_line_id_conflict",
                "visit_closed",
                "agreement_terminated",
                "credit_limit_exceeded",
                "visit_total_too_large",
            ),
        },
    )
    @idempotent
    def post(self, request, visit_id: int):
        posting = services.charges_post(
            visit_id=visit_id,
            institution=request.user.institution,
            api_key=request.auth,
            lines=charge_lines(request.data),
        )
        return Response(
            ChargesOutput(
                {"visit": posting.visit, "charges": posting.charges},
                context={"new_his_line_ids": posting.new},
            ).data,
            status=status.HTTP_201_CREATED if posting.new else status.HTTP_200_OK,
        )


def charge_lines(data) -> list[services.ChargeLine]:
    """The lines of a charges request (a charge or a list), validated by ``ChargeInput``."""
    if isinstance(data, list):
        serializer = ChargeInput(
            data=data,
            many=True,
            min_length=1,
            max_length=settings.API_MAX_CHARGES_PER_REQUEST,
        )
        serializer.is_valid(raise_exception=True)
        return [services.ChargeLine(**item) for item in serializer.validated_data]
    if isinstance(data, dict):
        serializer = ChargeInput(data=data)
        serializer.is_valid(raise_exception=True)
        return [services.ChargeLine(**serializer.validated_data)]
    raise ValidationError({"non_field_errors": [_("Send a charge or a list of them.")]})


class ChargeVoidView(HisApiView):
    @extend_schema(
        operation_id="charge_void",
        summary="Void a charge: its hold is released",
        description="Voiding a voided charge changes nothing and answers the same.",
        request=VoidInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: ChargesOutput,
            **errors(
                *POST_CODES,
                "not_found",
                "visit_not_found",
                "charge_not_found",
                "visit_closed",
                "bill_not_paid",
            ),
        },
    )
    @idempotent
    def post(self, request, visit_id: int, his_line_id: str):
        data = self.validated(VoidInput, request.data)
        visit, charge = services.charge_void(
            visit_id=visit_id,
            institution=request.user.institution,
            api_key=request.auth,
            his_line_id=his_line_id,
            reason=data["reason"],
        )
        return Response(self.rendered(ChargesOutput, {"visit": visit, "charges": [charge]}))


class VisitCloseView(HisApiView):
    @extend_schema(
        operation_id="visit_close",
        summary="Close a visit with its insurance settlement: the hold becomes a bill",
        description="total must equal the live charges and insurance_fund + personal_account "
        "+ self_pay (else 422 with the difference). The bill of self_pay is due after the "
        "pool's period (48 hours outpatient, 7 days inpatient by default); a zero self-pay "
        "closes as paid. Closing again with the same numbers answers the same.",
        request=CloseInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: VisitOutput,
            **errors(
                *POST_CODES,
                "not_found",
                "visit_not_found",
                "visit_closed",
                "agreement_terminated",
                "total_mismatch",
                "settlement_mismatch",
                "invalid_closed_at",
                "credit_limit_exceeded",
            ),
        },
    )
    @idempotent
    def post(self, request, visit_id: int):
        settlement = services.Settlement(**self.validated(CloseInput, request.data))
        visit = services.visit_close(
            visit_id=visit_id,
            institution=request.user.institution,
            api_key=request.auth,
            settlement=settlement,
        )
        return self.visit_response(visit.pk)


class VisitInterimView(HisApiView):
    @extend_schema(
        operation_id="visit_interim",
        summary="Bill a long inpatient stay part-way; the stay goes on",
        description="Every live charge not on a bill yet goes on an interim bill of self_pay, "
        "due as a closed stay's bill (7 days by default) with an SMS link to pay it; the "
        "visit stays open and its held goes to 0 (the bill now holds self_pay). total must "
        "equal those charges and insurance_fund + personal_account + self_pay (else 422 with "
        "the difference). The same his_settlement_id again with the same numbers answers "
        "the same bill (200).",
        request=InterimInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: OpenApiResponse(InterimOutput, description="Billed."),
            200: OpenApiResponse(InterimOutput, description="Billed before (same numbers)."),
            **errors(
                *POST_CODES,
                "not_found",
                "visit_not_found",
                "visit_closed",
                "interim_not_inpatient",
                "nothing_to_bill",
                "his_settlement_id_conflict",
                "agreement_terminated",
                "total_mismatch",
                "settlement_mismatch",
                "invalid_closed_at",
                "credit_limit_exceeded",
            ),
        },
    )
    @idempotent
    def post(self, request, visit_id: int):
        data = self.validated(InterimInput, request.data)
        his_settlement_id = data.pop("his_settlement_id")
        visit, bill, created = services.visit_interim(
            visit_id=visit_id,
            institution=request.user.institution,
            api_key=request.auth,
            his_settlement_id=his_settlement_id,
            settlement=services.Settlement(**data),
        )
        bill = selectors.bill_list(institution=request.user.institution).get(pk=bill.pk)
        return Response(
            self.rendered(InterimOutput, {"visit": visit, "bill": bill}),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class BillPagination(LimitOffsetPagination):
    default_limit = BILL_PAGE_SIZE
    max_limit = BILL_PAGE_MAX


class BillListView(HisApiView):
    @extend_schema(
        operation_id="bill_list",
        summary="Your institution's bills, newest first",
        parameters=[BillQuery],
        responses={200: BillPageOutput, **errors("invalid_input")},
    )
    def get(self, request):
        query = self.validated(BillQuery, request.query_params)
        bills = selectors.bill_list(
            institution=request.user.institution,
            citizen_card=query.get("citizen_card"),
            status=query.get("status"),
        )
        paginator = BillPagination()
        page = paginator.paginate_queryset(bills, request, view=self)
        return paginator.get_paginated_response(BillOutput(page, many=True).data)


class BillDetailView(HisApiView):
    @extend_schema(
        operation_id="bill_read",
        summary="One bill",
        responses={200: BillOutput, **errors("not_found", "bill_not_found")},
    )
    def get(self, request, bill_id: int):
        bill = selectors.bill_list(institution=request.user.institution).filter(pk=bill_id).first()
        if bill is None:
            raise DomainError("bill_not_found", _("No such bill at your institution."))
        return Response(self.rendered(BillOutput, bill))


class VisitCountsView(HisApiView):
    @extend_schema(
        operation_id="visit_count_report",
        summary="Report all the visits of a day (for the usage rate)",
        description="Once a day, the HIS reports how many visits it had, on credit or not: "
        "what the region's usage rate (visits on credit against all visits) is measured "
        "against. Reporting a day again replaces its count.",
        request=VisitCountInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: OpenApiResponse(VisitCountOutput, description="Recorded."),
            200: OpenApiResponse(VisitCountOutput, description="Replaced the day's count."),
            **errors(*POST_CODES, "invalid_count_date"),
        },
    )
    @idempotent
    def post(self, request):
        data = self.validated(VisitCountInput, request.data)
        count, created = services.visit_count_report(
            institution=request.user.institution,
            day=data["date"],
            outpatient=data["outpatient"],
            inpatient=data["inpatient"],
        )
        return Response(
            self.rendered(VisitCountOutput, count),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
