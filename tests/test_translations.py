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
