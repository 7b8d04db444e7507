"""Identity numbers at rest: encrypted, with a keyed hash beside them for exact search.

A copy of the database (a backup, a replica, a report query) does not give the numbers away:
the column holds Fernet tokens (AES-128-CBC + HMAC-SHA256, from the ``cryptography``
library). Fernet is randomised, so the same number never gives the same token; equality
(uniqueness, the desk's exact search) uses an HMAC-SHA256 of the number under a second key.
Neither key is in the database. ``IDENTITY_ENCRYPTION_KEYS`` lists keys newest first: the
first encrypts, any decrypts, so a key is rotated by putting a new one in front and running
``manage.py reencrypt_identity_numbers``.

An encrypted field answers no lookup but ``isnull``: a filter, a sort or an admin's URL
parameter cannot probe it a character at a time.
"""

import functools
import hashlib
import hmac
from collections.abc import Callable

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.core.exceptions import FieldError
from django.core.signals import setting_changed
from django.db import models

from accounts.identity import normalize_identity_number


@functools.cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.IDENTITY_ENCRYPTION_KEYS])


def _keys_changed(*, setting: str, **_: object) -> None:
    if setting == "IDENTITY_ENCRYPTION_KEYS":
        _fernet.cache_clear()


setting_changed.connect(_keys_changed)


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def reencrypt(token: str) -> str:
    """The same text under the newest key (a rotation)."""
    return _fernet().rotate(token.encode()).decode()


def identity_number_hash(number: str) -> str:
    """The keyed hash of a normalised identity number: equal numbers, equal hashes."""
    message = normalize_identity_number(number).encode()
    return hmac.new(settings.IDENTITY_HASH_KEY.encode(), message, hashlib.sha256).hexdigest()


# The tables holding identity numbers, with their row keys.
IDENTITY_TABLES = {"accounts_patient": "id", "accounts_historicalpatient": "history_id"}


def identity_numbers_rewrite(connection, change: Callable[[str], tuple[str, str]]) -> int:
    """Rewrite every stored identity number with raw SQL: ``change(stored)`` gives the plain
    number and what to store. For migrations and key rotation, which the models cannot do
    (they decrypt on read). Returns how many rows were rewritten."""
    rewritten = 0
    with connection.cursor() as cursor:
        for table, key in IDENTITY_TABLES.items():
            cursor.execute(f"SELECT {key}, id_number FROM {table} WHERE id_number <> ''")
            for row_id, stored in cursor.fetchall():
                number, new = change(stored)
                cursor.execute(
                    f"UPDATE {table} SET id_number = %s, id_number_hash = %s WHERE {key} = %s",
                    [new, identity_number_hash(number), row_id],
                )
                rewritten += 1
    return rewritten


class EncryptedCharField(models.CharField):
    """A short text kept encrypted. ``max_length`` bounds the text (forms, validation); the
    column is ``text``, as a token is longer than what it hides."""

    def db_type(self, connection) -> str:
        return "text"

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return value if value in (None, "") else encrypt(value)

    def get_lookup(self, lookup_name: str):
        if lookup_name != "isnull":
            raise FieldError(
                f"{self.name} is encrypted: search it by its keyed hash, never by {lookup_name}."
            )
        return super().get_lookup(lookup_name)

    def get_transform(self, lookup_name: str):
        return None  # no Lower(), no substrings: nothing of the text reaches SQL


class IdentityHashField(models.CharField):
    """The keyed hash of the model's ``id_number``, computed at every save (and bulk insert),
    so it can never disagree with the number it stands for."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance, add: bool) -> str:
        value = identity_number_hash(model_instance.id_number or "")
        setattr(model_instance, self.attname, value)
        return value
