"""The credit policy: a pure function from (policy numbers, repayment record, score) to limits.

No database, no clock: the same inputs always give the same limits, which is what the
property tests check and what lets a credit officer predict the effect of a change.

For each pool (outpatient, inpatient), starting from the pool's base limit:

1. **Score.** No score: ×1. A score below ``score_floor``: the base only, nothing below
   adds to it. Otherwise the multiplier of the highest band the score reaches (bands are
   ``(min_score, multiplier)``; no band reached: ×1). (People from outside the region sign
   online only with a score of at least ``online_score_floor``: ``online_signing_allowed``.)
2. **On-time streak.** Every ``repayments_per_step`` on-time repayments since the last late
   one add ``step_ratio`` × base.
3. **Cap.** Never above ``cap_multiplier`` × base.
4. **Late repayments and overdue bills.** Each late repayment in the record, and each bill
   overdue now, takes ``late_cut_ratio`` x base off, down to ``floor_ratio`` x base.
5. Rounded down to whole yuan.

An open overdue bill also asks for the agreement to be suspended (``suspend``); the caller
(the overdue sweep) acts on that.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from creditcare.money import floor_to_yuan

POOLS = ("outpatient", "inpatient")
SCORE_MIN, SCORE_MAX = 350, 950  # Sesame-style scores


@dataclass(frozen=True)
class PolicyParams:
    base_limits: dict[str, Decimal]
    cap_multiplier: Decimal = Decimal("2.00")
    step_ratio: Decimal = Decimal("0.10")
    repayments_per_step: int = 3
    late_cut_ratio: Decimal = Decimal("0.25")
    floor_ratio: Decimal = Decimal("0.50")
    score_floor: int = 550
    online_score_floor: int = 650
    score_bands: tuple[tuple[int, Decimal], ...] = ()

    def __post_init__(self) -> None:
        # Invariants the admin form also checks; here they protect every other caller.
        if self.cap_multiplier < 1:
            raise ValueError("cap_multiplier must be at least 1")
        if not (0 <= self.floor_ratio <= 1):
            raise ValueError("floor_ratio must be between 0 and 1")
        if self.step_ratio < 0 or self.late_cut_ratio < 0:
            raise ValueError("ratios must not be negative")
        if self.repayments_per_step < 1:
            raise ValueError("repayments_per_step must be at least 1")
        if any(limit < 0 for limit in self.base_limits.values()):
            raise ValueError("base limits must not be negative")
        if any(multiplier < 0 for _, multiplier in self.score_bands):
            raise ValueError("band multipliers must not be negative")


@dataclass(frozen=True)
class RepaymentRecord:
    """What the billing history says about a person (counts, not amounts)."""

    on_time_streak: int = 0  # bills paid by their due date since the last late one
    late_repayments: int = 0  # bills paid after their due date, within the look-back
    overdue_bills: int = 0  # bills past due and still unpaid now


@dataclass(frozen=True)
class PolicyDecision:
    limits: dict[str, Decimal]
    reasons: dict[str, list[str]] = field(default_factory=dict)
    suspend: bool = False
    score_applied: bool = False

    def reason_text(self, pool: str) -> str:
        return "; ".join(self.reasons.get(pool, []))


def score_multiplier(params: PolicyParams, score: int) -> Decimal:
    multiplier = Decimal("1")
    for min_score, band_multiplier in sorted(params.score_bands):
        if score >= min_score:
            multiplier = band_multiplier
    return multiplier


def online_signing_allowed(params: PolicyParams, *, resident: bool, score: int | None) -> bool:
    """Residents may always sign online; people from outside the region need a score of at
    least ``online_score_floor``."""
    return resident or (score is not None and score >= params.online_score_floor)


def decide_limits(
    params: PolicyParams, record: RepaymentRecord, score: int | None = None
) -> PolicyDecision:
    limits: dict[str, Decimal] = {}
    reasons: dict[str, list[str]] = {}
    score_applied = False
    for pool in POOLS:
        base = params.base_limits[pool]
        cap = base * params.cap_multiplier
        limit = base
        why = [_("base %(limit)s") % {"limit": f"{base:.2f}"}]
        below_floor = score is not None and score < params.score_floor
        if below_floor:
            why.append(
                _("score %(score)s below floor %(floor)s: base only")
                % {"score": score, "floor": params.score_floor}
            )
            score_applied = True
        else:
            if score is not None:
                multiplier = score_multiplier(params, score)
                if multiplier != 1:
                    limit = base * multiplier
                    why.append(
                        _("score %(score)s: x%(multiplier)s")
                        % {"score": score, "multiplier": multiplier}
                    )
                    score_applied = True
            steps = max(record.on_time_streak, 0) // params.repayments_per_step
            if steps:
                limit += steps * params.step_ratio * base
                why.append(
                    _("%(repayments)s on-time repayments: +%(steps)s step(s)")
                    % {"repayments": record.on_time_streak, "steps": steps}
                )
        if limit > cap:
            limit = cap
            why.append(_("capped at %(cap)s") % {"cap": f"{cap:.2f}"})
        strikes = max(record.late_repayments, 0) + max(record.overdue_bills, 0)
        if strikes:
            floor = base * params.floor_ratio
            cut = strikes * params.late_cut_ratio * base
            limit = max(limit - cut, min(floor, limit))
            why.append(
                _(
                    "%(late)s late repayment(s), %(overdue)s overdue bill(s): "
                    "-%(cut)s, floor %(floor)s"
                )
                % {
                    "late": record.late_repayments,
                    "overdue": record.overdue_bills,
                    "cut": f"{cut:.2f}",
                    "floor": f"{floor:.2f}",
                }
            )
        limit = max(floor_to_yuan(limit), Decimal("0.00"))
        limits[pool] = limit
        reasons[pool] = why
    return PolicyDecision(
        limits=limits,
        reasons=reasons,
        suspend=record.overdue_bills > 0,
        score_applied=score_applied,
    )
