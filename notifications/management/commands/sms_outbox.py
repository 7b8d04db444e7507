import json

import phonenumbers
from django.core.management.base import BaseCommand, CommandError

from notifications.models import SmsMessage


class Command(BaseCommand):
    help = "Print the SMS sent to a phone, newest first."

    def add_arguments(self, parser):
        parser.add_argument("--to", required=True, help="The phone, e.g. 13812345678 or +86…")
        parser.add_argument("--last", type=int, default=20, help="How many (default 20).")
        parser.add_argument("--json", action="store_true", help="Print a JSON list.")

    def handle(self, *args, to: str, last: int, **options):
        try:
            phone = phonenumbers.format_number(
                phonenumbers.parse(to, "CN"), phonenumbers.PhoneNumberFormat.E164
            )
        except phonenumbers.NumberParseException:
            raise CommandError(f"{to!r} is not a phone number") from None
        messages = SmsMessage.objects.filter(to=phone).order_by("-created_at", "-pk")[:last]
        rows = [
            {
                "id": m.pk,
                "to": m.to,
                "template": m.template,
                "body": m.body,
                "status": m.status,
                "created_at": m.created_at.isoformat(),
            }
            for m in messages
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows, ensure_ascii=False))
            return
        if not rows:
            self.stdout.write(f"No SMS to {phone}.")
        for row in rows:
            self.stdout.write(
                f"#{row['id']} {row['created_at']} {row['template']} [{row['status']}]"
            )
            self.stdout.write(f"  {row['body']}")
