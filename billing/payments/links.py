"""Payment links: the unguessable address in the visit-ended SMS where a bill (or an
instalment of its plan) is paid.
"""

import secrets

from django.conf import settings
from django.urls import reverse

from billing.models import (
    Bill,
    Instalment,
    PaymentLink,
)


def payment_link_create(*, bill: Bill, instalment: Instalment | None = None) -> PaymentLink:
    """The bill's link, or an instalment's: valid until paid or a while after it is due."""
    due_at = instalment.due_at if instalment else bill.due_at
    link, _created = PaymentLink.objects.get_or_create(
        bill=bill,
        instalment=instalment,
        defaults={
            "token": secrets.token_urlsafe(24),  # 192 random bits, 32 characters
            "expires_at": due_at + settings.PAYMENT_LINK_VALID_AFTER_DUE,
        },
    )
    return link


def public_url(viewname: str, *args) -> str:
    """The address of a patients' page, as sent to them: ``PUBLIC_BASE_URL`` and the
    site's path, whichever process (the site, the HIS API, a worker) builds it."""
    path = reverse(viewname, args=args, urlconf=settings.SITE_URLCONF)
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def payment_link_url(link: PaymentLink) -> str:
    return payment_token_url(link.token)


def payment_token_url(token: str) -> str:
    """A payment link's address from its token alone: what a batch of reminders reads."""
    return public_url("pay:link", token)
