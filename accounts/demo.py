"""The demo data of ``manage.py seed_demo``: made through the same services as real data."""

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction

from accounts import roles, services
from accounts.identity import resident_id_check_character
from accounts.models import (
    AgreementStatus,
    Institution,
    InstitutionApiKey,
    InstitutionKind,
    Patient,
    User,
)

INSTITUTIONS = [
    ("demo-people-hospital", "区第一人民医院", InstitutionKind.HOSPITAL),
    ("demo-tcm-hospital", "区中医院", InstitutionKind.HOSPITAL),
    ("demo-riverside-chc", "江滨街道社区卫生服务中心", InstitutionKind.COMMUNITY_CENTRE),
    ("demo-hill-clinic", "青山村卫生室", InstitutionKind.CLINIC),
]

# username, password, role (a group, or "administrator" for a superuser). Demo only.
STAFF = [
    ("window", "window-demo-2026", roles.WINDOW_STAFF),
    ("collector", "collector-demo-2026", roles.COLLECTION_STAFF),
    ("finance", "finance-demo-2026", roles.FINANCE),
    ("creditofficer", "credit-demo-2026", roles.CREDIT_OFFICERS),
    ("manager", "manager-demo-2026", roles.MANAGEMENT),
    ("integration", "integration-demo-2026", roles.INTEGRATION),
    ("admin", "admin-demo-2026", "administrator"),
]

# The names staff sign with (the printed agreement shows who signed it up).
STAFF_NAMES = {
    "window": "周敏",
    "collector": "吴强",
    "finance": "郑华",
    "creditofficer": "孙丽",
    "manager": "钱进",
    "integration": "冯涛",
    "admin": "管理员",
}

# citizen card, name, birth date, sequence (odd: male), phone, final agreement status
PATIENTS = [
    ("DEMO0000001", "张伟", "19580312", "031", "13800000001", AgreementStatus.ACTIVE),
    ("DEMO0000002", "王芳", "19670721", "042", "13800000002", AgreementStatus.ACTIVE),
    ("DEMO0000003", "李娜", "19900105", "064", "13800000003", AgreementStatus.ACTIVE),
    ("DEMO0000004", "刘洋", "19851130", "017", "13800000004", AgreementStatus.SUSPENDED),
    ("DEMO0000005", "陈静", "19730618", "028", "13800000005", AgreementStatus.TERMINATED),
    ("DEMO0000006", "杨勇", "20010909", "053", "13800000006", AgreementStatus.PENDING),
]
REGION_CODE = "330183"

OverdueBill = Callable[..., None]


@dataclass
class DemoSummary:
    staff: list[dict]
    patients: list[dict]
    institutions: list[dict]


def demo_resident_id(birth: str, sequence: str) -> str:
    first17 = f"{REGION_CODE}{birth}{sequence}"
    return first17 + resident_id_check_character(first17)


def _staff_user(username: str, password: str, role: str, institution: Institution) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "is_staff": True,
            "institution": institution,
            "first_name": STAFF_NAMES.get(username, username),
        },
    )
    if created:
        user.is_superuser = role == "administrator"
        user.set_password(password)
        user.save()
        if role != "administrator":
            user.groups.add(Group.objects.get(name=role))
    return user


def demo_api_key(institution: Institution) -> str:
    """The demo HIS key of an institution: derived from SECRET_KEY, the same on every run."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"demo-api-key:{institution.code}".encode(), hashlib.sha256
    ).hexdigest()
    key = f"{digest[:8]}.{digest[8:56]}"
    if not InstitutionApiKey.objects.filter(prefix=digest[:8]).exists():
        services.api_key_create(institution=institution, name="演示 HIS 接口", key=key)
    return key


def _patient(
    row: tuple, institution: Institution, clerk: User, overdue_bill: OverdueBill
) -> Patient:
    card, name, birth, sequence, phone, status = row
    existing = Patient.objects.filter(citizen_card=card).first()
    if existing:
        return existing
    details = services.PatientDetails(
        name=name,
        id_type="resident_id",
        id_number=demo_resident_id(birth, sequence),
        citizen_card=card,
        phone=phone,
    )
    if status == AgreementStatus.PENDING:
        patient = services.patient_create(details=details, actor=clerk)
        # Applied online, waiting for the signature at a window.
        services.agreement_open(patient=patient, institution=institution, channel="online")
        return patient
    agreement = services.patient_enrol(details=details, institution=institution, actor=clerk)
    if status == AgreementStatus.SUSPENDED:
        # Suspended the real way: a bill three weeks overdue (a collection case too).
        overdue_bill(patient=agreement.patient, institution=institution)
    if status == AgreementStatus.TERMINATED:
        services.agreement_suspend(
            agreement=agreement, actor=clerk, reason="演示：上月账单逾期未还"
        )
    if status == AgreementStatus.TERMINATED:
        services.agreement_terminate(agreement=agreement, actor=clerk, reason="演示：已迁出本区")
    return agreement.patient


def seed_demo(*, overdue_bill: OverdueBill) -> DemoSummary:
    """Create the demo; running it again finds what exists and changes nothing.

    ``overdue_bill(patient=, institution=)`` leaves a patient a bill overdue long enough to
    suspend their agreement: billing's to make (``billing.demo.seed_overdue_bill``)."""
    with transaction.atomic():
        institutions = [
            Institution.objects.get_or_create(code=code, defaults={"name": name, "kind": kind})[0]
            for code, name, kind in INSTITUTIONS
        ]
        home = institutions[0]
        staff = [_staff_user(u, p, role, home) for u, p, role in STAFF]
        clerk = staff[0]
        patients = [_patient(row, home, clerk, overdue_bill) for row in PATIENTS]
        api_keys = {i.code: demo_api_key(i) for i in institutions}
    for patient in patients:
        patient.refresh_from_db()
    return DemoSummary(
        staff=[{"username": u, "password": p, "role": role} for u, p, role in STAFF],
        patients=[
            {
                "citizen_card": p.citizen_card,
                "name": p.name,
                "phone": str(p.phone),
                "agreement_status": p.agreement.status,
            }
            for p in patients
        ],
        institutions=[
            {"code": i.code, "name": i.name, "api_key": api_keys[i.code]} for i in institutions
        ],
    )
