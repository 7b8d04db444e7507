"""Rotate the identity numbers' key: put the new Fernet key first in
IDENTITY_ENCRYPTION_KEYS (keep the old one after it), run this, then drop the old key."""

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from accounts.encryption import decrypt, identity_numbers_rewrite, reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored identity number under the first key of "
        "IDENTITY_ENCRYPTION_KEYS, and recompute their keyed hashes under IDENTITY_HASH_KEY."
    )

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            count = identity_numbers_rewrite(
                connection, lambda token: (decrypt(token), reencrypt(token))
            )
        self.stdout.write(f"re-encrypted {count} identity number(s)")
