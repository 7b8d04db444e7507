"""The demo region's people and what they are treated for: plain data drawn from a seeded
``random.Random``, no database. ``patients.py`` and ``office.py`` act it out through the
services."""

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from accounts.demo import REGION_CODE
from accounts.identity import resident_id_check_character
from accounts.services import PatientDetails
from creditcare.money import quantize

# The region's citizen cards: the mark of a seeded region (``seed_region`` refuses a second).
CARD_PREFIX = "RG"

# Institution code -> share of the region's visits; inpatient stays only where there are beds.
INSTITUTION_SHARE = {
    "demo-people-hospital": 0.42,
    "demo-tcm-hospital": 0.25,
    "demo-riverside-chc": 0.20,
    "demo-hill-clinic": 0.13,
}
HOSPITALS = {"demo-people-hospital", "demo-tcm-hospital"}

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
)
MALE_NAMES = (
    "伟 强 磊 军 洋 勇 杰 涛 明 超 刚 平 辉 鹏 华 飞 鑫 波 斌 宇 浩 凯 健 俊 帆 旭 宁 龙 林 "
    "建国 建华 志强 国强 德明 永刚 海涛 振华 文斌 立新 建军 卫东 国平 学军 春生 福海"
)
FEMALE_NAMES = (
    "芳 娜 敏 静 丽 艳 娟 霞 婷 雪 慧 莹 颖 琳 洁 倩 晶 欣 悦 萍 红 梅 兰 丹 蕾 薇 "
    "秀英 玉兰 桂英 秀兰 凤英 淑珍 春梅 海燕 晓燕 丽华 美玲 雅琴"
)
CHILD_NAMES = "子轩 梓涵 浩宇 欣怡 一诺 雨桐 宇轩 诗涵 梓萱 俊熙 沐阳 若汐 思远 嘉怡 宇航"
# Districts of the people from outside the region (their ID numbers start with these).
OTHER_REGIONS = ("340104", "360102", "410105", "510104", "430102", "320102", "420102", "330102")
PHONE_PREFIXES = "133 135 136 137 138 139 150 151 152 157 158 159 176 177 186 187 188 189"
# (share, lowest age, highest age): children, young adults, middle-aged, older, old.
AGE_BANDS = ((0.12, 0, 17), (0.25, 18, 39), (0.30, 40, 59), (0.22, 60, 74), (0.11, 75, 90))
# How patients pay their bills, by habit: (share, kind). (And one who never pays at all:
# see ``cast``.)
PAYERS = ((0.84, "reliable"), (0.12, "sloppy"), (0.04, "delinquent"))
# Where they pay: (share, channel); the window's ways of paying: (share, method).
CHANNELS = ((0.24, "alipay"), (0.30, "sandbox"), (0.46, "window"))
WINDOW_METHODS = ((0.30, "cash"), (0.30, "card"), (0.40, "scan"))


def pick(rng: random.Random, shares) -> object:
    """One of ``((share, value), ...)`` by its share."""
    return rng.choices([value for _s, value in shares], [s for s, _v in shares])[0]


@dataclass
class Person:
    """One of the region's patients as the demo plans them; ``patient_id`` once signed up."""

    index: int
    details: PatientDetails
    age: int
    signs_at: dt.datetime
    online: bool
    home: str  # institution code
    rate: float  # visits a day, on average, once signed
    payer: str
    channel: str
    window_method: str
    ill_at_sign_up: bool = False  # signs at the window on the way to the doctor
    unreachable: bool = False  # collection staff never get an answer
    moves_away_after: int | None = None  # days after signing, if they leave the region
    account: Decimal = Decimal("0.00")  # their insurance personal account's balance
    patient_id: int | None = None

    @property
    def card(self) -> str:
        return self.details.citizen_card

    @property
    def resident(self) -> bool:
        return self.details.resident_of_region


def cast(
    *, rng: random.Random, count: int, first: dt.date, days: int, tz: dt.tzinfo
) -> list[Person]:
    """The region's ``count`` patients, signing up from ``first`` over ``days`` days (more
    at the start, as a scheme opens; fewer at weekends), in the order they sign."""
    day_weights = [
        (1.7 - 1.2 * n / days) * (0.45 if (first + dt.timedelta(days=n)).weekday() >= 5 else 1)
        for n in range(days)
    ]
    sign_days = sorted(rng.choices(range(days), day_weights, k=count))
    used_ids: set[str] = set()
    people = []
    for index, day in enumerate(sign_days):
        resident = rng.random() >= 0.10
        _share, low, high = pick(rng, [(b[0], b) for b in AGE_BANDS])
        age = rng.randint(low, high)
        sex_male = rng.random() < 0.48
        born = _birth_date(rng, first, age)
        id_number = _resident_id(rng, resident, born, sex_male, used_ids)
        details = PatientDetails(
            name=_name(rng, age, sex_male),
            id_type="resident_id",
            id_number=id_number,
            citizen_card=f"{CARD_PREFIX}{index + 1:08d}",
            phone=f"+86{rng.choice(PHONE_PREFIXES.split())}{20_000_000 + index * 37:08d}",
            resident_of_region=resident,
        )
        # The window opens at 7:30; sign-ups come through the day, online ones at any hour.
        online = resident and age >= 18 and rng.random() < 0.2
        hour = rng.uniform(7, 23.5) if online else rng.triangular(7.6, 17.2, 9.5)
        signs_at = dt.datetime.combine(first + dt.timedelta(days=day), dt.time(), tz)
        # Older people and small children come more often; a few come very often (chronic).
        often = 1.6 if age >= 60 or age <= 6 else 1.0
        people.append(
            Person(
                index=index,
                details=details,
                age=age,
                signs_at=signs_at + dt.timedelta(hours=hour),
                online=online,
                ill_at_sign_up=not online and rng.random() < 0.75,
                home=pick(rng, [(s, code) for code, s in INSTITUTION_SHARE.items()]),
                rate=often * rng.lognormvariate(0, 0.7),
                payer=pick(rng, PAYERS),
                channel=pick(rng, CHANNELS),
                window_method=pick(rng, WINDOW_METHODS),
                moves_away_after=rng.randint(20, 150) if rng.random() < 0.004 else None,
                account=quantize(Decimal(rng.uniform(150, 4000)) if resident else 0),
            )
        )
    for person in people:
        person.unreachable = person.payer == "delinquent" and rng.random() < 0.5
    if people:
        # Whatever the size, someone never pays from the first week: the overdue sweep, a
        # suspension and a collection case are there to see.
        never = people[0]
        never.online, never.ill_at_sign_up, never.home = False, True, "demo-people-hospital"
        never.payer, never.unreachable = "never", True
    return people


def _birth_date(rng: random.Random, first: dt.date, age: int) -> dt.date:
    born = first - dt.timedelta(days=int(age * 365.25) + rng.randint(15, 350))
    return born


def _resident_id(
    rng: random.Random, resident: bool, born: dt.date, male: bool, used: set[str]
) -> str:
    region = REGION_CODE if resident else rng.choice(OTHER_REGIONS)
    while True:
        sequence = rng.randrange(0, 999, 2) + (1 if male else 0)
        first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
        number = first17 + resident_id_check_character(first17)
        if number not in used:
            used.add(number)
            return number


def _name(rng: random.Random, age: int, male: bool) -> str:
    names = CHILD_NAMES if age < 16 else MALE_NAMES if male else FEMALE_NAMES
    return rng.choice(SURNAMES) + rng.choice(names.split())


# --- What care costs ------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    category: str
    unit_price: Decimal
    quantities: tuple[int, ...] = (1,)


def _items(*rows) -> tuple[Item, ...]:
    return tuple(Item(c, n, cat, Decimal(p), q) for c, n, cat, p, q in rows)


LAB = _items(
    ("L001", "血常规", "lab", "20.00", (1,)),
    ("L002", "尿常规", "lab", "15.00", (1,)),
    ("L003", "肝功能", "lab", "60.00", (1,)),
    ("L004", "肾功能", "lab", "45.00", (1,)),
    ("L005", "空腹血糖", "lab", "10.00", (1,)),
    ("L006", "血脂四项", "lab", "40.00", (1,)),
    ("L007", "C反应蛋白", "lab", "35.00", (1,)),
)
IMAGING = _items(
    ("I001", "胸部X线摄影", "imaging", "80.00", (1,)),
    ("I002", "腹部B超", "imaging", "120.00", (1,)),
    ("I003", "头颅CT平扫", "imaging", "280.00", (1,)),
    ("I004", "心电图", "imaging", "30.00", (1,)),
)
DRUGS = _items(
    ("D001", "阿莫西林胶囊", "drug", "0.52", (24, 36)),
    ("D002", "头孢克肟片", "drug", "3.20", (6, 12)),
    ("D003", "布洛芬缓释胶囊", "drug", "1.15", (10, 20)),
    ("D004", "奥美拉唑肠溶胶囊", "drug", "1.80", (14, 28)),
    ("D005", "二甲双胍缓释片", "drug", "0.35", (30, 60)),
    ("D006", "苯磺酸氨氯地平片", "drug", "1.10", (28,)),
    ("D007", "阿托伐他汀钙片", "drug", "2.60", (14, 28)),
    ("D008", "连花清瘟胶囊", "drug", "0.60", (24, 36)),
    ("D009", "复方甘草口服溶液", "drug", "8.50", (1, 2)),
)
CHILD_DRUGS = _items(
    ("D101", "布洛芬混悬液", "drug", "18.50", (1,)),
    ("D102", "阿莫西林克拉维酸钾干混悬剂", "drug", "3.30", (6, 9)),
    ("D103", "小儿氨酚黄那敏颗粒", "drug", "1.20", (10, 12)),
)
HERBS = _items(("H001", "中药饮片（每剂）", "drug", "28.00", (5, 7, 10)))
TREATMENTS = _items(
    ("T001", "普通针刺", "treatment", "40.00", (1, 2)),
    ("T002", "推拿治疗", "treatment", "60.00", (1,)),
    ("T003", "静脉输液", "treatment", "25.00", (1, 2, 3)),
    ("T004", "清创缝合术", "treatment", "120.00", (1,)),
    ("T005", "雾化吸入", "treatment", "20.00", (2, 3)),
    ("T006", "换药", "treatment", "15.00", (1, 2)),
)
TCM_CONSULT = _items(("C001", "中医辨证论治", "consultation", "20.00", (1,)))

# Department -> (the institutions that have it, share there, what it orders).
DEPARTMENTS = {
    "内科": (HOSPITALS, 0.30, LAB + IMAGING + DRUGS),
    "外科": ({"demo-people-hospital"}, 0.12, IMAGING + TREATMENTS[3:5] + DRUGS[2:3]),
    "儿科": ({"demo-people-hospital"}, 0.14, LAB[:1] + LAB[6:7] + CHILD_DRUGS + TREATMENTS[4:5]),
    "妇产科": ({"demo-people-hospital"}, 0.10, LAB + IMAGING[1:2] + DRUGS[3:4]),
    "骨科": ({"demo-people-hospital"}, 0.10, IMAGING[:1] + IMAGING[2:3] + TREATMENTS[5:]),
    "急诊科": ({"demo-people-hospital"}, 0.08, LAB + IMAGING + TREATMENTS[2:3] + DRUGS),
    "中医内科": ({"demo-tcm-hospital"}, 0.45, TCM_CONSULT + HERBS + LAB[:2]),
    "针灸推拿科": ({"demo-tcm-hospital"}, 0.25, TREATMENTS[:2] + TCM_CONSULT),
    "全科": ({"demo-riverside-chc", "demo-hill-clinic"}, 0.7, LAB[:2] + DRUGS + TREATMENTS[2:3]),
    "慢病门诊": ({"demo-riverside-chc"}, 0.3, LAB[4:6] + DRUGS[4:7]),
}
REGISTRATION = {
    "demo-people-hospital": Decimal("12.00"),
    "demo-tcm-hospital": Decimal("15.00"),
    "demo-riverside-chc": Decimal("5.00"),
    "demo-hill-clinic": Decimal("3.00"),
}
DOCTORS = "王李张刘陈杨黄赵吴周徐孙胡朱高林何郭马罗"
# The patient's part of each category's cost (residents, before the health insurance pays the
# rest): lower at community centres and clinics, lower for stays. People from outside the
# region settle their insurance at home: they pay it all here.
OUTPATIENT_SELF_PAY = {
    "registration": 0.6,
    "consultation": 0.5,
    "lab": 0.45,
    "imaging": 0.45,
    "drug": 0.4,
    "treatment": 0.5,
    "material": 0.6,
}
INPATIENT_SELF_PAY = 0.3


@dataclass(frozen=True)
class Line:
    """A charge the HIS will post (``ChargeLine``'s fields but its id)."""

    code: str
    name: str
    category: str
    quantity: int
    unit_price: Decimal
    self_pay_ratio: float

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def self_pay_estimate(self) -> Decimal:
        return min(self.amount, quantize(self.amount * Decimal(str(self.self_pay_ratio))))


def _line(item: Item, rng: random.Random, ratio: float) -> Line:
    return Line(
        item.code, item.name, item.category, rng.choice(item.quantities), item.unit_price, ratio
    )


@dataclass
class OutpatientPlan:
    department: str
    doctor: str
    registration: Line
    orders: list[Line] = field(default_factory=list)


def outpatient(rng: random.Random, person: Person, institution: str) -> OutpatientPlan:
    """A consultation: the registration fee, then what the doctor orders (0 to 2 items)."""
    department = _department(rng, person, institution)
    _where, _share, orders = DEPARTMENTS[department]
    factor = 1.0 if institution in HOSPITALS else 0.7
    free = department == "慢病门诊" and rng.random() < 0.3  # chronic care covered in full

    def ratio(category: str) -> float:
        if not person.resident:
            return 1.0
        return 0.0 if free else OUTPATIENT_SELF_PAY[category] * factor

    registration = Item("F001", "挂号费", "registration", REGISTRATION[institution])
    plan = OutpatientPlan(
        department=department,
        doctor=f"{rng.choice(DOCTORS)}医生",
        registration=_line(registration, rng, ratio("registration")),
    )
    count = rng.choices((0, 1, 2), (0.25, 0.45, 0.30))[0]
    for item in rng.sample(orders, min(count, len(orders))):
        plan.orders.append(_line(item, rng, ratio(item.category)))
    return plan


def _department(rng: random.Random, person: Person, institution: str) -> str:
    choices = [
        (share, name)
        for name, (where, share, _orders) in DEPARTMENTS.items()
        if institution in where
        and (name != "儿科" or person.age < 14)
        and (name != "妇产科" or (person.details.id_number[16] in "02468" and person.age >= 16))
    ]
    if person.age < 14 and institution == "demo-people-hospital" and rng.random() < 0.8:
        return "儿科"
    return pick(rng, choices)


STAY_ADMISSION = _items(
    ("Z001", "住院诊查费", "consultation", "30.00", (1,)),
    ("L001", "血常规", "lab", "20.00", (1,)),
    ("L003", "肝功能", "lab", "60.00", (1,)),
    ("I001", "胸部X线摄影", "imaging", "80.00", (1,)),
)
STAY_DAILY = _items(
    ("B001", "床位费（三人间）", "bed", "60.00", (1,)),
    ("N001", "二级护理", "nursing", "28.00", (1,)),
    ("T003", "静脉输液", "treatment", "25.00", (1, 2)),
)
STAY_DRUGS = _items(
    ("D201", "注射用头孢曲松钠", "drug", "18.60", (2, 4)),
    ("D202", "氯化钠注射液", "drug", "4.50", (2, 3)),
    ("D203", "注射用泮托拉唑钠", "drug", "32.00", (1, 2)),
    ("D204", "低分子肝素钙注射液", "drug", "45.00", (1,)),
)
SURGERY = _items(
    ("S001", "手术费", "treatment", "2600.00", (1,)),
    ("S002", "麻醉费", "treatment", "780.00", (1,)),
    ("M001", "一次性手术耗材包", "material", "960.00", (1, 2)),
)


@dataclass
class StayPlan:
    department: str
    doctor: str
    nights: int
    surgery: bool
    ratio: float

    def admission(self, rng: random.Random) -> list[Line]:
        return [_line(item, rng, self.ratio) for item in STAY_ADMISSION]

    def day(self, rng: random.Random, number: int) -> list[Line]:
        """What a day on the ward adds (the operation on the first day after admission)."""
        lines = [_line(item, rng, self.ratio) for item in STAY_DAILY]
        lines += [_line(item, rng, self.ratio) for item in rng.sample(STAY_DRUGS, 2)]
        if self.surgery and number == 1:
            lines += [_line(item, rng, self.ratio) for item in SURGERY]
        return lines


def stay(rng: random.Random, person: Person) -> StayPlan:
    department = rng.choice(("内科", "外科", "骨科") + (("儿科",) if person.age < 14 else ()))
    surgery = department in ("外科", "骨科") and rng.random() < 0.6
    return StayPlan(
        department=department,
        doctor=f"{rng.choice(DOCTORS)}医生",
        nights=rng.randint(4, 12) if surgery else rng.randint(2, 8),
        surgery=surgery,
        ratio=INPATIENT_SELF_PAY if person.resident else 0.9,
    )


def split(
    rng: random.Random, person: Person, total: Decimal, self_pay: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """The insurance settlement of what the patient does not pay themselves: (fund, personal
    account, the account's balance after)."""
    rest = total - self_pay
    if not person.resident or rest <= 0:
        return rest, Decimal("0.00"), person.account
    from_account = min(person.account, quantize(rest * Decimal(str(rng.uniform(0.05, 0.3)))))
    person.account -= from_account
    return rest - from_account, from_account, person.account
