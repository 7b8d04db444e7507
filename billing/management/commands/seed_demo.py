import dataclasses
import json
import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from accounts.demo import seed_demo
from billing.demo import seed_long_stay, seed_overdue_bill


class Command(BaseCommand):
    help = "Create the demo institutions, staff (one per role) and patients. Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument(
            "--region",
            action="store_true",
            help="Then a demo region: months of patients, visits, payments, overdue bills, "
            "collection cases, refunds and reconciliation, written by the services "
            "(billing/demo_region). Only with the sandbox enabled (DEBUG=1), into an empty "
            "database; 30 to 45 minutes at the defaults on two cores.",
        )
        parser.add_argument("--months", type=int, default=6, help="With --region (default 6).")
        parser.add_argument(
            "--patients", type=int, default=3000, help="With --region (default 3000)."
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=min(2, os.cpu_count() or 1),
            help="With --region: processes sharing the patients (default: 2, or 1 on one CPU).",
        )
        parser.add_argument("--seed", type=int, help="With --region: another seed, another region.")

    def handle(self, *args, **options):
        region = None
        if options["region"]:
            summary, region = self._with_region(options)
        else:
            summary = seed_demo(overdue_bill=seed_overdue_bill)
            seed_long_stay(institution_code=summary.institutions[0]["code"])
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "staff": summary.staff,
                        "patients": summary.patients,
                        "institutions": summary.institutions,
                        **({"region": dataclasses.asdict(region)} if region else {}),
                    },
                    ensure_ascii=False,
                    default=str,
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
        if region:
            for line in region.lines():
                self.stdout.write(line)

    def _with_region(self, options):
        # Imported here: the plain demo (make run) needs none of the region's machinery.
        from billing.demo_region import SEED, RegionRefused, seed_demo_with_region

        for name in ("months", "patients", "workers"):
            if options[name] < 1:
                raise CommandError(f"--{name} must be at least 1.")
        # With --json the progress goes to stderr (unstyled), leaving stdout one JSON object.
        stream = OutputWrapper(sys.stderr) if options["json"] else self.stdout

        def progress(line: str) -> None:
            stream.write(line)
            stream.flush()

        try:
            return seed_demo_with_region(
                months=options["months"],
                patients=options["patients"],
                seed=SEED if options["seed"] is None else options["seed"],
                workers=options["workers"],
                progress=progress,
            )
        except RegionRefused as refusal:
            raise CommandError(str(refusal)) from None
