from django.core.management.base import BaseCommand, CommandError

from accounts.models import Institution
from accounts.services import api_key_create


class Command(BaseCommand):
    help = "Create an HIS API key for an institution and print it (once: only a hash is kept)."

    def add_arguments(self, parser):
        parser.add_argument("institution_code")
        parser.add_argument("--name", default="HIS", help="What the key is for (shown in admin).")

    def handle(self, *args, institution_code: str, name: str, **options):
        institution = Institution.objects.filter(code=institution_code).first()
        if institution is None:
            codes = ", ".join(Institution.objects.values_list("code", flat=True)) or "none yet"
            raise CommandError(f"No institution with code {institution_code!r} (known: {codes})")
        _api_key, key = api_key_create(institution=institution, name=name)
        self.stdout.write(key)
