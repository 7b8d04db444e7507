"""Reads of visits and bills for the HIS API and the patients' pages."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, QuerySet

from accounts.models import Institution
from billing.models import (
    BILL_OWED,
    Bill,
    Charge,
    Visit,
    VisitStatus,
)
from billing.visits.eligibility import agreement_refusal, patient_for_card
from creditcare.errors import DomainError


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    agreement_status: str | None
    reason: str | None
    message: str
    pools: dict[str, dict[str, Decimal]] | None


def eligibility(*, citizen_card: str) -> Eligibility:
    try:
        patient = patient_for_card(citizen_card)
    except DomainError as error:
        return Eligibility(False, None, error.code, error.message, None)
    agreement = getattr(patient, "agreement", None)
    pools = {
        line.pool: {"limit": line.limit, "available": line.available}
        for line in patient.credit_lines.all()
    } or None  # no credit lines before the agreement is signed
    refusal = agreement_refusal(patient)
    if refusal:
        return Eligibility(
            False, agreement.status if agreement else None, refusal.code, refusal.message, pools
        )
    return Eligibility(True, agreement.status, None, "", pools)


def visit_detail(*, visit_id: int, institution: Institution) -> Visit | None:
    return (
        Visit.objects.filter(pk=visit_id, institution=institution)
        .select_related("patient", "credit_line")
        .prefetch_related(
            Prefetch(
                "charges",
                queryset=Charge.objects.select_related("void", "interim").order_by("pk"),
            ),
            Prefetch("bills", queryset=bills_for_output(Bill.objects.all())),
        )
        .first()
    )


def bill_list(
    *, institution: Institution, citizen_card: str | None = None, status: str | None = None
) -> QuerySet[Bill]:
    bills = bills_for_output(Bill.objects.filter(institution=institution))
    if citizen_card:
        bills = bills.filter(patient__citizen_card=citizen_card.strip().upper())
    if status:
        bills = bills.filter(status=status)
    return bills.order_by("-closed_at", "-pk")


def bills_for_output(bills: QuerySet[Bill]) -> QuerySet[Bill]:
    """``bills`` with what the API shows of each (``BillOutput``) loaded with them."""
    return bills.select_related("patient", "visit", "institution", "invoice").prefetch_related(
        "invoice__einvoices", "payments"
    )


def live_charges(*, visit: Visit) -> QuerySet[Charge]:
    """The charges of a visit that were not voided, in the order they were posted."""
    return visit.charges.filter(void__isnull=True).order_by("pk")


def charges_unbilled(*, visit: Visit) -> QuerySet[Charge]:
    """The live charges of a visit on no interim bill: held while it is open, its final
    bill's once it is closed."""
    return live_charges(visit=visit).filter(interim__isnull=True)


def billed_part_way(*, visit: Visit) -> bool:
    """Whether the visit (a long stay) has interim bills."""
    return visit.bills.filter(interim=True).exists()


def charge_bill(*, visit: Visit, charge: Charge) -> Bill | None:
    """The bill a charge of ``visit`` is on (load the charge with ``interim__bill``): its
    interim bill, or the visit's once closed; None while the charge is held."""
    if hasattr(charge, "interim"):
        return charge.interim.bill
    return visit.bill if visit.status == VisitStatus.CLOSED else None


def bill_charges(*, bill: Bill) -> QuerySet[Charge]:
    """The live charges a bill is for."""
    if bill.interim:
        return live_charges(visit=bill.visit).filter(interim__bill=bill)
    return charges_unbilled(visit=bill.visit)


def visits_or_bills_open(patient_id: int) -> bool:
    """Whether the patient has a visit open or a bill owed: an agreement cannot end then."""
    return (
        Visit.objects.filter(patient_id=patient_id, status=VisitStatus.OPEN).exists()
        or Bill.objects.filter(patient_id=patient_id, status__in=BILL_OWED).exists()
    )
