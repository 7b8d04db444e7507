"""The credit ledger: every movement of a credit line is a ``CreditEntry`` and a change of
the line's ``used`` cache by the same amount, written here and nowhere else.
"""

from decimal import Decimal

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts.models import CreditLine, InstitutionApiKey
from billing.models import CreditEntry
from creditcare.money import ZERO, money_sum


def actor_of(api_key: InstitutionApiKey | None) -> str:
    return f"api-key:{api_key.prefix}" if api_key else "system"


# An entry's actor is a code ("api-key:<prefix>", "payment:<channel>", "staff:<username>",
# "system", "system:<why>"); this is how staff read it.
ACTOR_WORDS = {
    "api-key": gettext_lazy("HIS key %(who)s"),
    "payment": gettext_lazy("payment channel %(who)s"),
    "staff": gettext_lazy("staff member %(who)s"),
    "system": gettext_lazy("system"),
    "system:duplicate-payment": gettext_lazy("system: a duplicate payment"),
}


def actor_label(actor: str) -> str:
    kind, _sep, who = actor.partition(":")
    words = ACTOR_WORDS.get(actor) or ACTOR_WORDS.get(kind)
    return str(words) % {"who": who} if words else actor


def credit_moves(*, line: CreditLine, entries: list[CreditEntry]) -> None:
    """Record movements of a locked credit line and add them to its ``used`` cache."""
    entries = [entry for entry in entries if entry.amount != 0]
    if not entries:
        return
    for entry in entries:
        entry.credit_line = line
    CreditEntry.objects.bulk_create(entries)
    moved = sum((entry.amount for entry in entries), ZERO)
    now = timezone.now()
    CreditLine.objects.filter(pk=line.pk).update(used=F("used") + moved, updated_at=now)
    line.used += moved  # the row is locked: this is what the update wrote
    line.updated_at = now


def credit_move(*, line: CreditLine, kind: str, amount: Decimal, actor: str, **about) -> None:
    """Record one movement of a locked credit line (``about``: its visit, charge, bill or
    payment)."""
    credit_moves(line=line, entries=[CreditEntry(kind=kind, amount=amount, actor=actor, **about)])


def credit_used_from_entries(*, line: CreditLine) -> Decimal:
    """What ``line.used`` must be, recomputed from the credit entries."""
    return money_sum(CreditEntry.objects.filter(credit_line=line), "amount")
