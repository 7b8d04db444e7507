"""E-invoice platforms behind one interface, as payment gateways are behind theirs. The
province's platform (财政电子票据平台) issues the invoice: we ask, it numbers it from the range
allocated to us, gives it a check code, and often finishes later.

A provider (see ``EInvoiceProvider``):
* ``issue(request)``: ask for a blue invoice, or (``request.red``) a red-letter reversal of
  ``request.original_code``/``original_number``. The same ``request_id`` again is the same
  request: the answer for the invoice already asked for, never a second one;
* ``query(request_id)``: what became of a request (``None``: the platform never got it);
* ``download(request_id)``: the platform's own file of an issued invoice (PDF).

A request the platform refused may be asked again with the same ``request_id`` once what it
refused is put right. A real platform's calls time out (``ProviderError``) rather than wait.

An ``Answer`` is ``processing`` (ask again later), ``issued`` (with code, number, check code
and date) or ``refused`` (with the platform's reason). Network trouble and timeouts are
``ProviderError``: ask again later, with the same ``request_id``.

A real platform is one more module here, named in ``PROVIDERS``, and chosen with the
``EINVOICE_PROVIDER`` setting.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

PROVIDERS = {
    "sandbox": "billing.einvoices.providers.sandbox.SandboxProvider",
}


class ProviderError(Exception):
    """The platform could not be reached or did not answer in time: ask again later."""


@dataclass(frozen=True)
class Request:
    request_id: str
    red: bool
    institution_code: str
    institution_name: str
    payer_name: str
    payer_id_masked: str
    business_number: str  # our invoice number (YD...)
    items: list[tuple[str, Decimal]]  # (category label, amount)
    total: Decimal
    insurance_fund: Decimal
    personal_account: Decimal
    self_pay: Decimal
    original_code: str = ""
    original_number: str = ""


@dataclass(frozen=True)
class Answer:
    state: Literal["processing", "issued", "refused"]
    code: str = ""
    number: str = ""
    check_code: str = ""
    issued_on: dt.date | None = None
    reason: str = ""


class EInvoiceProvider(Protocol):
    def issue(self, request: Request) -> Answer: ...

    def query(self, request_id: str) -> Answer | None: ...

    def download(self, request_id: str) -> bytes: ...


def provider_configured() -> str:
    """The configured platform's name, or ``""``: no e-invoices are asked for."""
    return settings.EINVOICE_PROVIDER


def get_provider(name: str) -> EInvoiceProvider:
    """The platform ``name``; the sandbox's play invoices only where the sandbox is on."""
    if name not in PROVIDERS or (name == "sandbox" and not settings.SANDBOX_ENABLED):
        raise ImproperlyConfigured(f"no e-invoice platform {name!r} here")
    return import_string(PROVIDERS[name])()
