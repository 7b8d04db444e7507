"""Billing's models, one module per concept; everything is importable from here.

Design overview
---------------
* A ``Visit`` is opened by an institution's HIS for a patient with an active agreement, in
  one pool (outpatient or inpatient); its ``Charge`` lines are held against the visit's
  credit line (``visits``).
* Closing a visit records the insurance settlement and turns the hold into a ``Bill`` of
  the self-pay amount, due after the pool's period (``bills``). A long inpatient stay can
  be billed part-way: an interim ``Bill`` takes the charges so far (``InterimCharge``).
* A bill is paid through a ``PaymentLink`` by a ``Payment``; money goes back by a
  ``Refund``; a paid bill has an ``Invoice`` (``payments``), and the platform's
  ``EInvoice`` for it, with a red one reversing each refunded part (``einvoices``).
* Each morning a channel's statement of the day before is a ``ReconciliationRun`` with a
  ``ReconciliationDifference`` per mismatch, resolved by finance (``reconciliation``).
* What each institution is owed by channel and day is a ``SettlementStatement``
  (``settlement``).
* Overdue bills become ``CollectionCase`` work, with promises and payment plans
  (``collections``).
* Every movement of credit is a ``CreditEntry`` (append-only, ``ledger``). Stored totals
  (a line's ``used``, a visit's ``held`` and ``total``) are caches, and the tests recompute
  them from these rows.
"""

from billing.models.alerts import Alert, AlertRule, AlertSeverity
from billing.models.bills import BILL_OWED, Bill, BillStatus, InterimCharge
from billing.models.collections import (
    CaseEvent,
    CaseEventKind,
    CaseStatus,
    CollectionCase,
    ContactChannel,
    Instalment,
    PaymentPlan,
    PromiseStatus,
    PromiseToPay,
)
from billing.models.einvoices import (
    EInvoice,
    EInvoiceEvent,
    EInvoiceEventKind,
    EInvoiceStatus,
    SandboxEInvoice,
)
from billing.models.figures import DailyFigure, FigureMeasure
from billing.models.idempotency import IdempotencyRecord
from billing.models.ledger import CreditEntry, CreditEntryKind
from billing.models.payments import (
    MONEY_TAKEN,
    Invoice,
    Payment,
    PaymentLink,
    PaymentNotification,
    PaymentStatus,
    Refund,
    RefundMethod,
    RefundStatus,
    SandboxRefund,
    SandboxTrade,
    StrongCheckAttempt,
    WindowMethod,
)
from billing.models.reconciliation import (
    DifferenceEvent,
    DifferenceKind,
    DifferenceStatus,
    ReconciliationDifference,
    ReconciliationRun,
    Resolution,
    RunStatus,
    TillCount,
)
from billing.models.settlement import SettlementStatement, SettlementStatus
from billing.models.visits import (
    MAX_VISIT_TOTAL,
    Charge,
    ChargeCategory,
    ChargeVoid,
    DailyVisitCount,
    Visit,
    VisitStatus,
)

__all__ = [
    "BILL_OWED",
    "MAX_VISIT_TOTAL",
    "MONEY_TAKEN",
    "Alert",
    "AlertRule",
    "AlertSeverity",
    "Bill",
    "BillStatus",
    "CaseEvent",
    "CaseEventKind",
    "CaseStatus",
    "Charge",
    "ChargeCategory",
    "ChargeVoid",
    "CollectionCase",
    "ContactChannel",
    "CreditEntry",
    "CreditEntryKind",
    "DailyFigure",
    "DailyVisitCount",
    "DifferenceEvent",
    "DifferenceKind",
    "DifferenceStatus",
    "EInvoice",
    "EInvoiceEvent",
    "EInvoiceEventKind",
    "EInvoiceStatus",
    "FigureMeasure",
    "IdempotencyRecord",
    "Instalment",
    "InterimCharge",
    "Invoice",
    "Payment",
    "PaymentLink",
    "PaymentNotification",
    "PaymentPlan",
    "PaymentStatus",
    "PromiseStatus",
    "PromiseToPay",
    "ReconciliationDifference",
    "ReconciliationRun",
    "Refund",
    "RefundMethod",
    "RefundStatus",
    "Resolution",
    "RunStatus",
    "SandboxEInvoice",
    "SandboxRefund",
    "SandboxTrade",
    "SettlementStatement",
    "SettlementStatus",
    "StrongCheckAttempt",
    "TillCount",
    "Visit",
    "VisitStatus",
    "WindowMethod",
]
