"""A visit closed through the services, as the browser tests' HIS would close it."""

from decimal import Decimal

from billing.models import Visit
from billing.visits import services


def visit_closed(
    *,
    patient,
    hospital,
    his_visit_id: str,
    lines: list[services.ChargeLine],
    insurance_fund: str = "0",
    personal_account: str = "0",
    kind: str = "outpatient",
) -> Visit:
    """Open a visit for ``patient`` (agreement signed), post ``lines``, and close it with the
    insurance paying ``insurance_fund`` and ``personal_account``: the rest is the bill."""
    visit, _ = services.visit_open(
        institution=hospital,
        api_key=None,
        citizen_card=patient.citizen_card,
        kind=kind,
        his_visit_id=his_visit_id,
    )
    services.charges_post(visit_id=visit.pk, institution=hospital, api_key=None, lines=lines)
    total = sum((line.amount for line in lines), Decimal("0.00"))
    fund, account = Decimal(insurance_fund), Decimal(personal_account)
    return services.visit_close(
        visit_id=visit.pk,
        institution=hospital,
        api_key=None,
        settlement=services.Settlement(
            total, fund, account, total - fund - account, Decimal("312.40")
        ),
    )
