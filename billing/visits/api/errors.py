"""Every API error is ``{code, message, details}`` with a stable ``code``.

Domain errors carry their code; this module maps each to an HTTP status, and DRF's and
Django's own errors to codes of ours. Anything unexpected is logged and answered with a JSON
500 (never an HTML page), though the test suite holds that no request reaches it.
"""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers, status
from rest_framework.response import Response

from creditcare.errors import DomainError

logger = logging.getLogger(__name__)

# The error codes of the API: code -> (status, when), for the docs and the schema. A domain
# error's status is its code's here (422 if not listed: understood, but refused by a rule).
# 400 means the request does not match the OpenAPI schema; a request that does and is still
# refused (by the data it names, or a rule across its fields) gets 402, 404, 409 or 422.
ERROR_CODES = {
    "unauthenticated": (401, "No or malformed Authorization header, or an unknown/revoked key."),
    "bad_request": (400, "A Host this service does not answer to, or a malformed request."),
    "not_found": (404, "No such URL, or an object of another institution."),
    "visit_not_found": (404, "No such visit at your institution."),
    "bill_not_found": (404, "No such bill at your institution."),
    "charge_not_found": (404, "The visit has no charge with this his_line_id."),
    "method_not_allowed": (405, "This URL does not take this HTTP method."),
    "not_acceptable": (406, "Only application/json responses are available."),
    "unsupported_media_type": (415, "Send bodies as application/json."),
    "malformed_json": (400, "The body is not valid JSON."),
    "invalid_input": (
        400,
        "The request does not match the schema: a field missing, of the wrong type, out of "
        "range or not in its pattern (details).",
    ),
    "invalid_idempotency_key": (
        400,
        "Idempotency-Key must be 1-255 printable ASCII characters, no space at either end.",
    ),
    "payload_too_large": (413, "The body is larger than the limit (1 MiB by default)."),
    "credit_limit_exceeded": (
        402,
        "Not enough available credit; `available` and `requested` are in the body (and in "
        "details). Collect payment at the window.",
    ),
    "duplicate_his_line_id": (422, "The same his_line_id twice in one request."),
    "amount_mismatch": (422, "A charge's amount is not quantity x unit_price to the cent."),
    "self_pay_estimate_exceeds_amount": (422, "A charge's self_pay_estimate exceeds its amount."),
    "invalid_started_at": (422, "Open: started_at before 2000 or in the future."),
    "invalid_count_date": (422, "Visit count: a date in the future or too long ago."),
    "visit_total_too_large": (422, "The visit's total would exceed 100,000,000.00."),
    "unknown_card": (422, "No patient has this citizen card."),
    "no_agreement": (422, "The patient never signed the agreement."),
    "agreement_pending": (422, "The agreement is recorded but not signed yet."),
    "agreement_suspended": (422, "The agreement is suspended (overdue bill)."),
    "agreement_terminated": (422, "The agreement has ended."),
    "his_visit_id_conflict": (409, "The his_visit_id is used for another patient or kind."),
    "his_line_id_conflict": (409, "The his_line_id was posted before with other content."),
    "visit_closed": (
        409,
        "The visit is closed; no more charges, interim bills or a different close, and no "
        "voids until its bill is paid.",
    ),
    "bill_not_paid": (
        409,
        "Void: the charge is on an interim bill that is not paid; only a paid bill's charges "
        "are voided.",
    ),
    "interim_not_inpatient": (422, "Interim: only an inpatient stay is billed part-way."),
    "nothing_to_bill": (422, "Interim: every live charge of the stay is on a bill already."),
    "his_settlement_id_conflict": (
        409,
        "Interim: the his_settlement_id was billed before with other numbers.",
    ),
    "total_mismatch": (
        422,
        "Close or interim: total differs from the live charges on no bill yet (details: "
        "difference).",
    ),
    "settlement_mismatch": (
        422,
        "Close or interim: insurance_fund + personal_account + self_pay differs from total.",
    ),
    "invalid_closed_at": (
        422,
        "Close or interim: closed_at before the visit started (or its latest interim bill) or "
        "in the future.",
    ),
    "idempotency_key_reused": (422, "The Idempotency-Key was used before with another request."),
    "idempotency_key_in_flight": (409, "A request with this Idempotency-Key is still running."),
    "server_error": (500, "A fault of ours; it is logged. Retrying with the same key is safe."),
}


def error_body(code: str, message: str, details=None) -> dict:
    return {"code": code, "message": str(message), "details": details or {}}


def _drf_code(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return "unauthenticated"
    if isinstance(exc, exceptions.ParseError):
        return "malformed_json"
    return {
        exceptions.PermissionDenied: "permission_denied",
        exceptions.NotFound: "not_found",
        exceptions.MethodNotAllowed: "method_not_allowed",
        exceptions.NotAcceptable: "not_acceptable",
        exceptions.UnsupportedMediaType: "unsupported_media_type",
        exceptions.Throttled: "throttled",
        exceptions.ValidationError: "invalid_input",
    }.get(type(exc), "invalid_input")


def error_response(exc: Exception) -> Response | None:
    """The API's answer to an exception, or ``None`` if it is a fault of ours."""
    if isinstance(exc, DomainError):
        body = error_body(exc.code, exc.message, exc.details)
        if exc.code == "credit_limit_exceeded":
            body.update(exc.details)  # {code, available, requested} at the top, as promised
        code_status, _when = ERROR_CODES.get(exc.code, (status.HTTP_422_UNPROCESSABLE_ENTITY, ""))
        return Response(body, status=code_status)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("payload_too_large", _("The request body is too large.")),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    code = _drf_code(exc)
    if isinstance(exc, exceptions.ValidationError):
        message, details = _("Some fields are missing or invalid."), {"fields": exc.detail}
    else:
        message, details = exc.detail, {}
    headers = {}
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        headers["WWW-Authenticate"] = "Api-Key"
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    return Response(error_body(code, message, details), status=exc.status_code, headers=headers)


def server_error_body() -> dict:
    return error_body("server_error", _("Something went wrong on our side; it is logged."))


def exception_handler(exc, context):
    response = error_response(exc)
    if response is None:
        logger.exception("unexpected error in %s", context.get("view"), exc_info=exc)
        response = Response(server_error_body(), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return response


def api_bad_request(request, exception=None):
    """Django's own 400 (a Host not allowed, a malformed request) in the API's JSON."""
    return JsonResponse(
        error_body("bad_request", _("This request cannot be served: check the address.")),
        status=status.HTTP_400_BAD_REQUEST,
    )


def api_not_found(request, exception=None):
    return JsonResponse(
        error_body("not_found", _("No such URL in the API.")), status=status.HTTP_404_NOT_FOUND
    )


def api_server_error(request):
    """A fault of ours outside DRF's handling (Django logged it): JSON, as every API answer."""
    return JsonResponse(server_error_body(), status=status.HTTP_500_INTERNAL_SERVER_ERROR)


class JSONParser(parsers.JSONParser):
    """DRF's parser, but absurdly nested JSON is a 400, not a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(_("The JSON is nested too deeply.")) from None
