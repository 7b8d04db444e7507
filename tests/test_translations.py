"""Chinese is the default language: every text must be translated, and the committed .mo
must match the .po (a stale .mo would show English to patients)."""

import gettext
import re
from pathlib import Path

from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"


def po_entries() -> dict[tuple[str | None, str], str]:
    """``{(context, msgid): msgstr}`` of the catalogue (context ``None`` where it has none)."""
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    entries = {}
    pattern = r'^(?:msgctxt "(.*)"\n)?msgid ((?:".*"\n)+)msgstr ((?:".*"\n?)+)'
    for match in re.finditer(pattern, text, re.M):
        msgid = unescape("".join(re.findall(r'"(.*)"', match.group(2))))
        if msgid:
            msgstr = unescape("".join(re.findall(r'"(.*)"', match.group(3))))
            entries[(match.group(1), msgid)] = msgstr
    return entries


def unescape(text: str) -> str:
    return text.encode().decode("unicode_escape").encode("latin-1").decode()


def test_every_text_is_translated_and_compiled():
    entries = po_entries()
    assert entries
    with (LOCALE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    untranslated = [msgid for msgid, msgstr in entries.items() if not msgstr]
    assert untranslated == []
    stale = [
        (context, msgid)
        for (context, msgid), msgstr in entries.items()
        if (compiled.pgettext(context, msgid) if context else compiled.gettext(msgid)) != msgstr
    ]
    assert stale == []


def test_one_english_word_reads_right_in_each_place():
    """Issue 13: "Pending" read 待签约 on payments, refunds and promises; a case's "Open" read
    就诊中; the contact channel "Visit" read 就诊时间; the admin's History button 案件记录."""
    from django.utils import translation

    from accounts.models import AgreementStatus
    from billing.models import (
        CaseStatus,
        ContactChannel,
        PaymentStatus,
        PromiseStatus,
        RefundStatus,
        VisitStatus,
    )

    with translation.override("zh-hans"):
        labels = {
            "agreement": AgreementStatus.PENDING.label,
            "payment": PaymentStatus.PENDING.label,
            "refund": RefundStatus.PENDING.label,
            "promise": PromiseStatus.PENDING.label,
            "visit": VisitStatus.OPEN.label,
            "case": CaseStatus.OPEN.label,
            "contact": ContactChannel.VISIT.label,
        }
        labels = {name: str(label) for name, label in labels.items()}  # read in Chinese
        history = translation.gettext("History")
    assert labels == {
        "agreement": "待签约",
        "payment": "支付中",
        "refund": "退款中",
        "promise": "待兑现",
        "visit": "就诊中",
        "case": "处理中",
        "contact": "上门拜访",
    }
    assert history == "历史"  # Django's own word on every admin page
