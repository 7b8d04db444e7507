"""What an e-invoice says, in one place: the request the platform is asked (``request_of``)
and the printed document made of a request and the platform's answer (``document_pdf``)."""

from decimal import Decimal

from django.utils import translation

from billing.einvoices.pdf import InvoiceDocument, invoice_pdf
from billing.einvoices.providers import Answer, Request
from billing.models import ChargeCategory, EInvoice


def request_of(einvoice: EInvoice) -> Request:
    """The platform's request for ``einvoice`` (its invoice's bill's institution loaded)."""
    institution = einvoice.invoice.bill.institution
    original = einvoice.original
    with translation.override("zh-hans"):  # the invoice is a Chinese document
        items = [
            (str(ChargeCategory(category).label), Decimal(amount))
            for category, amount in einvoice.items
        ]
    return Request(
        request_id=str(einvoice.id),
        red=einvoice.red,
        institution_code=institution.code,
        institution_name=institution.name,
        payer_name=einvoice.payer_name,
        payer_id_masked=einvoice.payer_id_masked,
        business_number=einvoice.invoice.number,
        items=items,
        total=einvoice.total,
        insurance_fund=einvoice.insurance_fund,
        personal_account=einvoice.personal_account,
        self_pay=einvoice.self_pay,
        original_code=original.code if original else "",
        original_number=original.number if original else "",
    )


def qr_content(answer: Answer, total: Decimal) -> str:
    """The check data of the invoice's QR code, as the platform's checking service reads it:
    code, number, check code, date and total."""
    return f"{answer.code},{answer.number},{answer.check_code},{answer.issued_on:%Y%m%d},{total}"


def document_pdf(request: Request, answer: Answer) -> bytes:
    """The PDF of an issued invoice."""
    return invoice_pdf(
        InvoiceDocument(
            red=request.red,
            code=answer.code,
            number=answer.number,
            check_code=answer.check_code,
            issued_on=answer.issued_on,
            payer_name=request.payer_name,
            payer_id_masked=request.payer_id_masked,
            institution=request.institution_name,
            business_number=request.business_number,
            items=request.items,
            total=request.total,
            insurance_fund=request.insurance_fund,
            personal_account=request.personal_account,
            self_pay=request.self_pay,
            original_number=request.original_number,
            qr_content=qr_content(answer, request.total),
        )
    )


def einvoice_pdf(einvoice: EInvoice) -> bytes:
    """The PDF of an issued ``einvoice``, made from our own record of it."""
    answer = Answer(
        state="issued",
        code=einvoice.code,
        number=einvoice.number,
        check_code=einvoice.check_code,
        issued_on=einvoice.issued_on,
    )
    return document_pdf(request_of(einvoice), answer)
