import json

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.demo import seed_demo
from billing.demo import seed_overdue_bill


class Command(BaseCommand):
    help = "Create the demo institutions, staff (one per role) and patients. Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options):
        summary = seed_demo(overdue_bill=seed_overdue_bill)
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "staff": summary.staff,
                        "patients": summary.patients,
                        "institutions": summary.institutions,
                    },
                    ensure_ascii=False,
                )
            )
            return
        base = settings.PUBLIC_BASE_URL.rstrip("/")
        self.stdout.write(f"CreditCare demo data is ready. Admin: {base}/admin/")
        self.stdout.write("Staff logins (demo passwords, never use them in production):")
        for user in summary.staff:
            self.stdout.write(f"  {user['username']:<14} {user['password']:<22} {user['role']}")
        if settings.OTP_REQUIRED_ROLES:
            roles = ", ".join(settings.OTP_REQUIRED_ROLES)
            self.stdout.write(
                f"Two-factor sign-in is required for {roles}: after the password, set up an "
                "authenticator app (its QR code is shown), then sign in with its code."
            )
        else:
            self.stdout.write(
                "Two-factor sign-in is optional (OTP_REQUIRED_ROLES is empty): any staff "
                "member may set it up under 'Two-factor sign-in' at the top of the admin."
            )
        self.stdout.write("Patients (citizen card, name, phone, agreement):")
        for patient in summary.patients:
            self.stdout.write(
                f"  {patient['citizen_card']:<12} {patient['name']:<6} {patient['phone']:<15} "
                f"{patient['agreement_status']}"
            )
        self.stdout.write("Institutions and their demo HIS API keys (Authorization: Api-Key …):")
        for institution in summary.institutions:
            self.stdout.write(
                f"  {institution['code']:<22} {institution['api_key']}  {institution['name']}"
            )
        self.stdout.write(f"HIS API docs: {base}/api/v1/docs/")
