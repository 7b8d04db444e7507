"""The patient's pages behind the SMS link (``/p/<token>``): mobile first, no JavaScript.

1. The link page: institution, date, amount due, a button that sends a code to the
   agreement's phone (shown masked), and the field for the code.
2. With the right code, the settlement page (结算清单) for the rest of the session.
"""

import functools
import logging
import time

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.family import family_payers
from accounts.masking import mask_phone
from billing.einvoices.documents import einvoice_pdf
from billing.einvoices.selectors import einvoices_of_bill
from billing.models import BillStatus, Payment, PaymentLink, PaymentStatus
from billing.payments.gateways import (
    ForgedNotification,
    GatewayError,
    NotificationIgnored,
    channels_offered,
    get_gateway,
)
from billing.payments.gateways.sandbox import SandboxGateway
from billing.payments.pages.me import signed_in_phone
from billing.payments.services import payment_notified, payment_start
from billing.payments.strong_check import strong_check, strong_check_needed
from billing.visits.selectors import bill_charges, billed_part_way
from creditcare.errors import DomainError
from creditcare.http import client_ip
from notifications.codes import code_check, code_send

logger = logging.getLogger(__name__)


def _link(token: str) -> PaymentLink | None:
    return (
        PaymentLink.objects.select_related(
            "bill__visit", "bill__institution", "bill__patient", "instalment__plan"
        )
        .filter(token=token)
        .first()
    )


def _session_key(link: PaymentLink) -> str:
    return f"paylink:{link.pk}"


def _verified(request: HttpRequest, link: PaymentLink) -> bool:
    return request.session.get(_session_key(link), 0) > time.time()


def _strong_key(link: PaymentLink) -> str:
    return f"paystrong:{link.pk}"


def _strong_check_due(request: HttpRequest, link: PaymentLink) -> bool:
    """A large bill whose stronger check this session has not passed since its last code
    (passing it is marked with that code's session's end)."""
    code_session = request.session.get(_session_key(link), 0)
    passed = code_session > time.time() and request.session.get(_strong_key(link)) == code_session
    return strong_check_needed(link) and not passed


def _unusable(request: HttpRequest, link: PaymentLink | None) -> HttpResponse | None:
    """The page to show instead when the link cannot be used (unknown, expired, paid)."""
    if link is None:
        return render(request, "pay/gone.html", {"reason": "unknown"}, status=404)
    if link.bill.status == BillStatus.PAID or (link.instalment and link.instalment.paid_at):
        return render(request, "pay/gone.html", {"reason": "paid", "link": link})
    if not link.bill.is_owed:  # written off
        return render(request, "pay/gone.html", {"reason": "closed"})
    if link.expires_at <= timezone.now():
        return render(request, "pay/gone.html", {"reason": "expired"}, status=410)
    return None


def _purpose(link: PaymentLink) -> str:
    return f"pay:{link.pk}"


def with_link(*, verified: bool = False, strong: bool = True):
    """Resolve ``token`` to a usable link (or answer why not); with ``verified``, the session
    must have passed the code for it, and for a large bill the stronger check too (unless
    ``strong`` is off: the check's own page)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, token: str, **kwargs) -> HttpResponse:
            link = _link(token)
            refusal = _unusable(request, link)
            if refusal:
                return refusal
            if verified and not _verified(request, link):
                return redirect("pay:link", token)
            if verified and strong and _strong_check_due(request, link):
                return redirect("pay:check", token)
            return view(request, link, **kwargs)

        return wrapper

    return decorate


def _code_phones(link: PaymentLink) -> dict[str, str]:
    """Where the link's code may go: ``{"patient": phone}``, and each family payer's phone
    by its id."""
    patient = link.bill.patient
    return {"patient": str(patient.phone)} | {
        str(payer.pk): str(payer.phone) for payer in family_payers(patient)
    }


def _code_to(request: HttpRequest, link: PaymentLink) -> str:
    """The phone the session asked the code to be sent to (the patient's unless a family
    payer's was chosen)."""
    phones = _code_phones(link)
    return phones.get(request.session.get(f"paycode-to:{link.pk}", ""), phones["patient"])


@with_link()
def link_page(request: HttpRequest, link: PaymentLink, error: str = "") -> HttpResponse:
    if _verified(request, link):
        return redirect("pay:bill", link.token)
    bill = link.bill
    phones = _code_phones(link)
    return render(
        request,
        "pay/link.html",
        {
            "link": link,
            "bill": bill,
            "phone": bill.patient.masked_phone,
            "sent_to": mask_phone(_code_to(request, link)),
            "family": [(key, mask_phone(phone)) for key, phone in phones.items()][1:],
            "error": error,
            "code_sent": bool(request.GET.get("sent")) and not error,
        },
        status=400 if error else 200,
    )


@require_POST
@with_link()
def send_code(request: HttpRequest, link: PaymentLink) -> HttpResponse:
    to = request.POST.get("to", "patient")[:20]
    phone = _code_phones(link).get(to)
    if phone is None:  # a family payer removed meanwhile, or a made-up choice
        return link_page(request, link.token, error=_("Choose a phone to send the code to."))
    bill = link.bill
    try:
        code_send(
            phone=phone,
            purpose=_purpose(link),
            context={"bill_of": bill.patient.name, "institution": bill.institution.name},
        )
    except DomainError as error:
        return link_page(request, link.token, error=error.message)
    request.session[f"paycode-to:{link.pk}"] = to
    return redirect(reverse("pay:link", args=[link.token]) + "?sent=1")


@require_POST
@with_link()
def verify_code(request: HttpRequest, link: PaymentLink) -> HttpResponse:
    code = request.POST.get("code", "")
    try:
        code_check(phone=_code_to(request, link), purpose=_purpose(link), code=code[:12])
    except DomainError as error:
        return link_page(request, link.token, error=error.message)
    request.session.cycle_key()
    request.session[_session_key(link)] = time.time() + settings.PAYMENT_SESSION_SECONDS
    return redirect("pay:bill", link.token)


@with_link(verified=True, strong=False)
def check_page(request: HttpRequest, link: PaymentLink) -> HttpResponse:
    """The stronger check of a large bill, after the code: the last 6 characters of the
    patient's ID number (and a real-name check where a service is configured)."""
    if not _strong_check_due(request, link):
        return redirect("pay:bill", link.token)
    error = ""
    if request.method == "POST":
        try:
            strong_check(
                link=link,
                answer=request.POST.get("answer", "")[:12],
                client_ip=client_ip(request),
            )
        except DomainError as refused:
            error = refused.message
        else:
            request.session[_strong_key(link)] = request.session[_session_key(link)]
            return redirect("pay:bill", link.token)
    context = {"link": link, "bill": link.bill, "error": error}
    return render(request, "pay/check.html", context, status=400 if error else 200)


def _checkout_allowed(response: HttpResponse, channels: list[tuple[str, str]]) -> HttpResponse:
    """Let the page's forms lead on to these channels' checkouts. A form posts to us and we
    redirect to the channel; browsers check that redirect against the form-action of the page
    the form was on (django-csp's csp_update, for this response only)."""
    origins = [
        origin
        for channel, _label in channels
        for origin in get_gateway(channel, for_new_payments=True).checkout_origins()
    ]
    if origins:
        response._csp_update = {"form-action": origins}
    return response


@with_link(verified=True)
def bill_page(request: HttpRequest, link: PaymentLink) -> HttpResponse:
    bill = link.bill
    charges = bill_charges(bill=bill)
    channels = channels_offered()
    response = render(
        request,
        "pay/bill.html",
        {
            "link": link,
            "bill": bill,
            "charges": charges,
            # the close of a stay billed part-way: its earlier days are on the interim bills
            "after_interim": not bill.interim and billed_part_way(visit=bill.visit),
            "channels": channels,
            # paid at the channel, its word not in yet: say so rather than ask again
            "awaiting": bill.payments.filter(status=PaymentStatus.PENDING).exists(),
        },
    )
    return _checkout_allowed(response, channels)


@require_POST
@with_link(verified=True)
def pay(request: HttpRequest, link: PaymentLink) -> HttpResponse:
    try:
        _payment, url = payment_start(
            link=link,
            channel=request.POST.get("channel", ""),
            client_ip=client_ip(request),
        )
    except DomainError as error:
        return render(
            request, "pay/gone.html", {"reason": "error", "message": error.message}, status=400
        )
    return redirect(url)


def receipt_page(request: HttpRequest, token: str) -> HttpResponse:
    """The receipt (the link in the payment SMS). Anyone with the link sees that it is paid:
    the amount and the invoice number to print it at a window. The settlement and the items
    only a session that passed the code for the bill, or signed in to /me/ with its phone."""
    link = _link(token)
    if link is None or link.bill.status != BillStatus.PAID or not hasattr(link.bill, "invoice"):
        if link is not None and link.instalment and link.instalment.paid_at:
            return render(request, "pay/gone.html", {"reason": "paid", "link": link})  # a part
        return render(request, "pay/gone.html", {"reason": "unknown"}, status=404)
    bill = link.bill
    details = _sees_details(request, link)
    context = {"bill": bill, "details": details, "link": link}
    if details:
        context["charges"] = bill_charges(bill=bill)
        context["einvoices"] = einvoices_of_bill(bill.pk)
    return render(request, "pay/receipt.html", context)


def _sees_details(request: HttpRequest, link: PaymentLink) -> bool:
    """A session that passed the code for the bill, or signed in to /me/ with its phone."""
    return _verified(request, link) or signed_in_phone(request) == str(link.bill.patient.phone)


def einvoice_download(request: HttpRequest, token: str, einvoice_id) -> HttpResponse:
    """The PDF of one of a paid bill's e-invoices, for whoever sees the receipt's details
    (it names the payer and the items); others are sent to the receipt, which says how."""
    link = _link(token)
    if link is None:
        return render(request, "pay/gone.html", {"reason": "unknown"}, status=404)
    if not _sees_details(request, link):
        return redirect("pay:receipt", token)
    einvoice = next(
        (e for e in einvoices_of_bill(link.bill_id) if e.pk == einvoice_id and e.number), None
    )
    if einvoice is None:
        return render(request, "pay/gone.html", {"reason": "unknown"}, status=404)
    response = HttpResponse(einvoice_pdf(einvoice), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="einvoice-{einvoice.code}-{einvoice.number}.pdf"'
    )
    return response


def sandbox_checkout(request: HttpRequest, out_trade_no: str) -> HttpResponse:
    """The sandbox channel's own checkout page (a real channel's page is at the channel).
    A button records the outcome in the sandbox's books and delivers the channel's signed
    notification, verified as any; "paid, notification lost" leaves it to the query. Only
    with ``SANDBOX_ENABLED``, and only for a session that passed the code for the bill."""
    if not settings.SANDBOX_ENABLED:
        raise Http404
    payment = (
        Payment.objects.select_related("link", "bill__institution")
        .filter(channel="sandbox", out_trade_no=out_trade_no, status=PaymentStatus.PENDING)
        .first()
    )
    if payment is None:
        return render(request, "pay/gone.html", {"reason": "unknown"}, status=404)
    token = payment.link.token
    if not _verified(request, payment.link):
        return redirect("pay:link", token)
    if _strong_check_due(request, payment.link):
        return redirect("pay:check", token)
    if request.method != "POST":
        return render(request, "pay/sandbox.html", {"payment": payment})
    outcome = request.POST.get("outcome", "")
    word = {"paid": "PAID", "paid-silently": "PAID", "failed": "FAILED", "closed": "CLOSED"}.get(
        outcome
    )
    if word is None:
        return render(request, "pay/sandbox.html", {"payment": payment}, status=400)
    gateway = SandboxGateway()
    signed = gateway.checkout(payment, word)
    if outcome != "paid-silently":
        payment_notified(channel="sandbox", notification=gateway.parse_fields(signed))
    if outcome == "paid":
        return redirect("pay:receipt", token)
    return redirect("pay:bill", token)


@csrf_exempt
@require_POST
def notify(request: HttpRequest, channel: str) -> HttpResponse:
    """Asynchronous notifications of every channel. Verified before anything is read; the
    channel is told "received" only once the notification is stored (it re-sends until)."""
    try:
        gateway = get_gateway(channel)
    except KeyError:
        gateway = None
    if gateway is None or not gateway.configured():  # no keys: nothing of ours to notify
        return HttpResponse("unknown channel", status=404, content_type="text/plain")
    try:
        payment_notified(channel=channel, notification=gateway.parse_notification(request))
    except ForgedNotification as error:
        logger.warning("refused %s notification: %s", channel, error)
        return gateway.refuse(str(error))
    except NotificationIgnored as event:
        logger.info("%s notification needs nothing of us: %s", channel, event)
    except GatewayError as error:  # our side (keys, configuration): the channel re-sends
        logger.error("could not check a %s notification: %s", channel, error)
        return HttpResponse("unavailable", status=503, content_type="text/plain")
    return gateway.acknowledge()
