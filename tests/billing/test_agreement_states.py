"""What an agreement's state means for visits (issue 13, defect 2): an agreement ends only
with nothing open or owed; a visit whose agreement has ended takes no more charges and no
close; a suspension stops new visits while the visits already open go on."""

import pytest

from accounts import services as account_services
from accounts.models import AgreementStatus, CreditAgreement
from billing.models import Bill, Charge
from creditcare.errors import DomainError
from tests.billing.test_api import settlement

pytestmark = pytest.mark.django_db


def test_an_agreement_with_an_open_visit_holding_nothing_cannot_end(
    his, card, signed_patient, window_clerk
):
    his.open_visit(card)

    with pytest.raises(DomainError) as refused:
        account_services.agreement_terminate(
            agreement=signed_patient, actor=window_clerk, reason="Moved away"
        )

    assert refused.value.code == "balance_not_zero"
    signed_patient.refresh_from_db()
    assert signed_patient.status == AgreementStatus.ACTIVE


def test_a_visit_whose_agreement_has_ended_takes_no_charge_and_no_close(his, card):
    visit = his.open_visit(card)
    assert his.charge(visit["id"], "L1", "10.00").status_code == 201
    # Data from before termination needed nothing open: a visit left open on an ended one.
    CreditAgreement.objects.update(status=AgreementStatus.TERMINATED)

    charge = his.charge(visit["id"], "L2", "5.00")
    close = his.post(f"visits/{visit['id']}/close/", settlement("10.00", "10.00"))

    assert (charge.status_code, charge.json()["code"]) == (422, "agreement_terminated")
    assert (close.status_code, close.json()["code"]) == (422, "agreement_terminated")
    assert Charge.objects.count() == 1 and not Bill.objects.exists()


def test_a_suspension_stops_new_visits_but_not_the_ones_open(
    his, card, signed_patient, window_clerk
):
    visit = his.open_visit(card, his_visit_id="OPEN")
    account_services.agreement_suspend(
        agreement=signed_patient, actor=window_clerk, reason="Bill overdue"
    )

    new = his.post("visits/", {"citizen_card": card, "kind": "outpatient", "his_visit_id": "N"})
    charge = his.charge(visit["id"], "L1", "10.00")
    close = his.post(f"visits/{visit['id']}/close/", settlement("10.00", "10.00"))

    assert (new.status_code, new.json()["code"]) == (422, "agreement_suspended")
    assert charge.status_code == 201
    assert close.status_code == 200 and Bill.objects.get().self_pay == 10
