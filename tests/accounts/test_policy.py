from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.policy import (
    SCORE_MAX,
    SCORE_MIN,
    PolicyParams,
    RepaymentRecord,
    decide_limits,
    online_signing_allowed,
)

D = Decimal
PARAMS = PolicyParams(
    base_limits={"outpatient": D("300.00"), "inpatient": D("5000.00")},
    cap_multiplier=D("2.00"),
    step_ratio=D("0.10"),
    repayments_per_step=3,
    late_cut_ratio=D("0.25"),
    floor_ratio=D("0.50"),
    score_floor=550,
    score_bands=((650, D("1.20")), (750, D("1.50")), (850, D("2.00"))),
)


@pytest.mark.parametrize(
    ("record", "score", "outpatient", "inpatient", "suspend"),
    [
        # New patient, no score: the base.
        (RepaymentRecord(), None, "300.00", "5000.00", False),
        # Two on-time repayments are not yet a step; three are (+10% of base).
        (RepaymentRecord(on_time_streak=2), None, "300.00", "5000.00", False),
        (RepaymentRecord(on_time_streak=3), None, "330.00", "5500.00", False),
        (RepaymentRecord(on_time_streak=7), None, "360.00", "6000.00", False),
        # Steps stop at the cap (2x base).
        (RepaymentRecord(on_time_streak=300), None, "600.00", "10000.00", False),
        # Score bands scale the base; a score below the floor leaves only the base.
        (RepaymentRecord(), 600, "300.00", "5000.00", False),
        (RepaymentRecord(), 700, "360.00", "6000.00", False),
        (RepaymentRecord(), 800, "450.00", "7500.00", False),
        (RepaymentRecord(), 950, "600.00", "10000.00", False),
        (RepaymentRecord(), 400, "300.00", "5000.00", False),
        (RepaymentRecord(on_time_streak=9), 400, "300.00", "5000.00", False),
        # A good score and a good record together still stop at the cap.
        (RepaymentRecord(on_time_streak=9), 800, "540.00", "9000.00", False),
        (RepaymentRecord(on_time_streak=30), 800, "600.00", "10000.00", False),
        # Each late repayment cuts 25% of base, never below half the base.
        (RepaymentRecord(late_repayments=1), None, "225.00", "3750.00", False),
        (RepaymentRecord(late_repayments=5), None, "150.00", "2500.00", False),
        (RepaymentRecord(on_time_streak=6, late_repayments=1), 800, "435.00", "7250.00", False),
        # An overdue bill lowers the limit and asks for suspension.
        (RepaymentRecord(overdue_bills=1), None, "225.00", "3750.00", True),
        (RepaymentRecord(overdue_bills=1, late_repayments=1), None, "150.00", "2500.00", True),
    ],
)
def test_policy_table(record, score, outpatient, inpatient, suspend):
    decision = decide_limits(PARAMS, record, score)
    assert decision.limits == {"outpatient": D(outpatient), "inpatient": D(inpatient)}
    assert decision.suspend is suspend
    assert decision.reasons["outpatient"][0] == "base 300.00"


def test_limits_are_whole_yuan_rounded_down():
    params = PolicyParams(base_limits={"outpatient": D("333.00"), "inpatient": D("0.00")})
    decision = decide_limits(params, RepaymentRecord(on_time_streak=3))  # 333 * 1.1 = 366.3
    assert decision.limits["outpatient"] == D("366.00")
    assert decision.limits["inpatient"] == D("0.00")


def test_reasons_explain_the_decision():
    decision = decide_limits(PARAMS, RepaymentRecord(on_time_streak=3, late_repayments=1), 700)
    text = decision.reason_text("outpatient")
    assert "score 700" in text and "on-time" in text and "late" in text


def test_outsiders_need_a_score_at_the_floor_to_sign_online():
    assert online_signing_allowed(PARAMS, resident=True, score=None)
    assert not online_signing_allowed(PARAMS, resident=False, score=None)
    assert not online_signing_allowed(PARAMS, resident=False, score=649)  # online: 650
    assert online_signing_allowed(PARAMS, resident=False, score=650)


def test_impossible_policy_numbers_are_refused():
    with pytest.raises(ValueError):
        PolicyParams(base_limits={"outpatient": D("300")}, cap_multiplier=D("0.5"))
    with pytest.raises(ValueError):
        PolicyParams(base_limits={"outpatient": D("-1")})


money = st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False)
ratio = st.decimals(min_value=0, max_value=3, places=2, allow_nan=False)
params_strategy = st.builds(
    PolicyParams,
    base_limits=st.fixed_dictionaries({"outpatient": money, "inpatient": money}),
    cap_multiplier=st.decimals(min_value=1, max_value=5, places=2),
    step_ratio=ratio,
    repayments_per_step=st.integers(min_value=1, max_value=12),
    late_cut_ratio=ratio,
    floor_ratio=st.decimals(min_value=0, max_value=1, places=2),
    score_floor=st.integers(min_value=SCORE_MIN, max_value=SCORE_MAX),
    score_bands=st.lists(
        st.tuples(st.integers(SCORE_MIN, SCORE_MAX), st.decimals(0, 10, places=2)), max_size=4
    ).map(tuple),
)
records = st.builds(
    RepaymentRecord,
    on_time_streak=st.integers(0, 10_000),
    late_repayments=st.integers(0, 1_000),
    overdue_bills=st.integers(0, 50),
)
scores = st.none() | st.integers(SCORE_MIN, SCORE_MAX)


@given(params=params_strategy, record=records, score=scores)
def test_limits_are_never_negative_never_above_cap_and_deterministic(params, record, score):
    decision = decide_limits(params, record, score)
    again = decide_limits(params, record, score)
    assert decision == again
    for pool, limit in decision.limits.items():
        assert limit >= 0
        assert limit <= params.base_limits[pool] * params.cap_multiplier
        assert limit == limit.quantize(D("0.01"))
