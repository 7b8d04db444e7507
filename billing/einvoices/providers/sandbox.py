"""The sandbox platform: plays the province's e-invoice platform for ``make run`` and the
tests. It keeps its own books (``SandboxEInvoice``), so a request asked twice is one invoice,
as at the real platform. Like one, it:

* numbers invoices from the range allocated to us (``SANDBOX_EINVOICE_CODE``,
  ``SANDBOX_EINVOICE_NUMBERS``), and refuses once the range is used up;
* gives each a check code;
* finishes later: an invoice is ready ``SANDBOX_EINVOICE_DELAY_SECONDS`` after the request,
  and until then the answer is "processing";
* refuses what does not add up (items or parts that do not make the total, a reversal of an
  invoice it did not issue or of more than is left of it), or everything while
  ``SANDBOX_EINVOICE_REFUSE`` holds a reason;
* times out when ``SANDBOX_EINVOICE_TIME_OUT`` is ``before`` (nothing was recorded) or
  ``after`` (recorded; only the answer is lost).

The reasons are in Chinese, as the platform gives them.
"""

import dataclasses
import datetime as dt
import hashlib
import hmac
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.einvoices.documents import document_pdf
from billing.einvoices.providers import Answer, ProviderError, Request
from billing.models import SandboxEInvoice
from creditcare.money import money_sum

TIMEOUTS = {
    "before": "开票平台响应超时（测试平台：请求未记录）",
    "after": "开票平台响应超时（测试平台：请求已记录，应答丢失）",
}


def _timed_out(when: str) -> None:
    if when == settings.SANDBOX_EINVOICE_TIME_OUT:
        raise ProviderError(TIMEOUTS[when])


def _check_code(code: str, number: str, total: Decimal) -> str:
    key = hmac.new(settings.SECRET_KEY.encode(), b"sandbox-einvoice", hashlib.sha256).digest()
    return hmac.new(key, f"{code}{number}{total}".encode(), hashlib.sha256).hexdigest()[:6]


def _answer(books: SandboxEInvoice) -> Answer:
    if timezone.now() < books.ready_at:
        return Answer(state="processing")
    return Answer(
        state="issued",
        code=books.code,
        number=books.number,
        check_code=books.check_code,
        issued_on=books.issued_on,
    )


def _refusal(request: Request) -> str:
    """Why the platform refuses the request, or ``""``."""
    if settings.SANDBOX_EINVOICE_REFUSE:
        return settings.SANDBOX_EINVOICE_REFUSE
    if sum(amount for _category, amount in request.items) != request.total:
        return "项目金额合计与票据金额不符"
    if request.insurance_fund + request.personal_account + request.self_pay != request.total:
        return "支付方式金额合计与票据金额不符"
    if not request.payer_name:
        return "交款人不能为空"
    if request.red:
        original = SandboxEInvoice.objects.filter(
            code=request.original_code, number=request.original_number, red=False
        ).first()
        if original is None:
            return "原票据不存在"
        reversed_before = money_sum(
            SandboxEInvoice.objects.filter(
                document__original_number=request.original_number, red=True
            ),
            "total",
        )
        if original.total + reversed_before + request.total < 0:
            return "冲红金额超过原票据剩余金额"
    return ""


def _next_number() -> str | None:
    """The next number of the allocated range, or ``None`` when it is used up."""
    first, last = (int(n) for n in settings.SANDBOX_EINVOICE_NUMBERS.split("-"))
    used = SandboxEInvoice.objects.filter(code=settings.SANDBOX_EINVOICE_CODE).order_by("-number")
    latest = used.values_list("number", flat=True).first()
    number = first if latest is None else int(latest) + 1
    return f"{number:010d}" if number <= last else None


class SandboxProvider:
    name = "sandbox"

    def issue(self, request: Request) -> Answer:
        _timed_out("before")
        books = SandboxEInvoice.objects.filter(request_id=request.request_id).first()
        if books is None:
            refusal = _refusal(request)
            if refusal:
                return Answer(state="refused", reason=refusal)
            number = _next_number()
            if number is None:
                return Answer(state="refused", reason="票据号段已用完，请申领新号段")
            code, now = settings.SANDBOX_EINVOICE_CODE, timezone.now()
            try:
                with transaction.atomic():
                    books = SandboxEInvoice.objects.create(
                        request_id=request.request_id,
                        red=request.red,
                        code=code,
                        number=number,
                        check_code=_check_code(code, number, request.total),
                        total=request.total,
                        issued_on=timezone.localdate(now),
                        ready_at=now
                        + dt.timedelta(seconds=settings.SANDBOX_EINVOICE_DELAY_SECONDS),
                        document=_document(request),
                    )
            except IntegrityError:  # the same number given at once to another request
                raise ProviderError("sandbox numbering clash, ask again") from None
        _timed_out("after")
        return _answer(books)

    def query(self, request_id: str) -> Answer | None:
        books = SandboxEInvoice.objects.filter(request_id=request_id).first()
        return None if books is None else _answer(books)

    def download(self, request_id: str) -> bytes:
        books = SandboxEInvoice.objects.get(request_id=request_id)
        if timezone.now() < books.ready_at:
            raise ProviderError("the invoice is not ready yet")
        saved = books.document
        request = Request(
            **{
                **saved,
                "items": [(category, Decimal(amount)) for category, amount in saved["items"]],
                **{k: Decimal(saved[k]) for k in MONEY_FIELDS},
            }
        )
        return document_pdf(request, _answer(books))


MONEY_FIELDS = ("total", "insurance_fund", "personal_account", "self_pay")


def _document(request: Request) -> dict:
    saved = dataclasses.asdict(request)
    saved["items"] = [[category, str(amount)] for category, amount in request.items]
    return {**saved, **{k: str(saved[k]) for k in MONEY_FIELDS}}
