"""Chinese is the default language: every text must be translated, and the committed .mo
must match the .po (a stale .mo would show English to patients)."""

import gettext
import re
from pathlib import Path

from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"


def po_entries() -> dict[str, str]:
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    entries = {}
    for match in re.finditer(r'^msgid ((?:".*"\n)+)msgstr ((?:".*"\n?)+)', text, re.M):
        msgid = "".join(re.findall(r'"(.*)"', match.group(1)))
        msgstr = "".join(re.findall(r'"(.*)"', match.group(2)))
        if msgid:
            entries[msgid.encode().decode("unicode_escape").encode("latin-1").decode()] = (
                msgstr.encode().decode("unicode_escape").encode("latin-1").decode()
            )
    return entries


def test_every_text_is_translated_and_compiled():
    entries = po_entries()
    assert entries
    with (LOCALE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    untranslated = [msgid for msgid, msgstr in entries.items() if not msgstr]
    assert untranslated == []
    stale = [msgid for msgid, msgstr in entries.items() if compiled.gettext(msgid) != msgstr]
    assert stale == []
