"""Reads of accounts data used by services, views and the admin."""

import hmac
import re
import time
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Q, QuerySet

from accounts.encryption import identity_number_hash
from accounts.models import CreditScore, InstitutionApiKey, Patient

# A whole mainland mobile number, with or without +86.
MOBILE = re.compile(r"(?:\+?86)?(1\d{10})")


def patient_search(*, query: str, limit: int = 50) -> QuerySet[Patient]:
    """The sign-up desk's search: a citizen card, an identity number or a whole mobile number
    (each exactly), or part of a name. A number matches nobody by a part of it."""
    query = query.strip()
    if not query or "\x00" in query:  # no one's details hold a NUL
        return Patient.objects.none()
    condition = (
        Q(citizen_card__iexact=query) | patient_numbers_match(query) | Q(name__icontains=query)
    )
    return (
        Patient.objects.filter(condition)
        .select_related("agreement")
        .prefetch_related("credit_lines")
        .order_by("name", "pk")[:limit]
    )


def patient_numbers_match(query: str, *, path: str = "", identity: bool = True) -> Q:
    """The patients a whole number names: a mobile number (with or without +86) and, when
    ``identity`` (staff who may see identity numbers), an identity number. ``path`` leads
    from the model searched to its patient (``"patient__"``). Never a part of a number: a
    search must not become a way to read one digit by digit."""
    condition = Q(pk__in=[])  # nobody
    mobile = MOBILE.fullmatch(re.sub(r"[\s-]", "", query.strip()))
    if mobile:
        condition |= Q(**{f"{path}phone": f"+86{mobile[1]}"})  # stored E.164
    if identity:
        condition |= Q(**{f"{path}id_number_hash": identity_number_hash(query)})
    return condition


def credit_score_latest(*, citizen_card: str, source: str | None = None) -> CreditScore | None:
    return credit_scores_latest(citizen_cards=[citizen_card], source=source).get(citizen_card)


def credit_scores_latest(
    *, citizen_cards: Iterable[str], source: str | None = None
) -> dict[str, CreditScore]:
    """The latest score on record of each card that has one, in one query."""
    scores = CreditScore.objects.filter(citizen_card__in_array=list(citizen_cards))
    if source:
        scores = scores.filter(source=source)
    latest = scores.order_by("citizen_card", "-created_at", "-pk").distinct("citizen_card")
    return {score.citizen_card: score for score in latest}


# prefix -> (expires at, key). Spares each API request a query; a revoked key stops working
# in this process at once and in the others within API_KEY_CACHE_SECONDS.
_api_key_cache: dict[str, tuple[float, InstitutionApiKey]] = {}


def api_key_authenticate(*, key: str) -> InstitutionApiKey | None:
    """The live key matching ``key``, or ``None``. Compared in constant time."""
    prefix, _, secret = key.partition(".")
    if not prefix or not secret or len(key) > 100 or "\x00" in key:
        return None
    cached = _api_key_cache.get(prefix)
    if cached and cached[0] > time.monotonic():
        api_key = cached[1]
    else:
        api_key = (
            InstitutionApiKey.objects.select_related("institution")
            .filter(prefix=prefix, revoked_at=None, institution__is_active=True)
            .first()
        )
        if api_key is None:
            return None
        _api_key_cache[prefix] = (time.monotonic() + settings.API_KEY_CACHE_SECONDS, api_key)
    if not hmac.compare_digest(api_key.key_hash, InstitutionApiKey.hash_key(key)):
        return None
    return api_key


def api_key_forget(*, prefix: str) -> None:
    _api_key_cache.pop(prefix, None)
