from pathlib import Path

from django.conf import settings

from billing.visits.api.errors import ERROR_CODES


def test_every_error_code_is_listed_in_the_docs():
    doc = (Path(settings.BASE_DIR) / "docs" / "his-api.md").read_text()
    for code, (status, _when) in ERROR_CODES.items():
        assert f"| `{code}` | {status} |" in doc, code


def test_every_code_the_api_raises_is_documented():
    import re

    # What the HIS API calls (payments belong to the patients' pages, not the API).
    visits = Path(settings.BASE_DIR, "billing", "visits")
    sources = [*visits.glob("*.py"), *visits.joinpath("api").glob("*.py")]
    raised = set()
    for source in sources:
        raised |= set(re.findall(r'DomainError\(\s*"([a-z_]+)"', source.read_text()))
        raised |= set(re.findall(r'^\s+\(\s*"([a-z_]+)",\s*$', source.read_text(), re.M))
    assert raised, "the pattern found nothing"
    assert raised <= set(ERROR_CODES), raised - set(ERROR_CODES)
