"""Identity numbers encrypted at rest, with a keyed hash for uniqueness and exact search.

The rows are rewritten with raw SQL: the models would try to decrypt what is still plain.
"""

from django.db import migrations, models

import accounts.encryption
from accounts.encryption import decrypt, encrypt, identity_numbers_rewrite


def encrypt_numbers(apps, schema_editor) -> None:
    identity_numbers_rewrite(schema_editor.connection, lambda plain: (plain, encrypt(plain)))


def decrypt_numbers(apps, schema_editor) -> None:
    identity_numbers_rewrite(schema_editor.connection, lambda token: (decrypt(token),) * 2)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_labels_in_chinese"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="patient",
            name="patient_identity_unique",
        ),
        migrations.AddField(
            model_name="historicalpatient",
            name="id_number_hash",
            field=accounts.encryption.IdentityHashField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="patient",
            name="id_number_hash",
            field=accounts.encryption.IdentityHashField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="historicalpatient",
            name="id_number",
            field=accounts.encryption.EncryptedCharField(
                max_length=32, verbose_name="identity number"
            ),
        ),
        migrations.AlterField(
            model_name="patient",
            name="id_number",
            field=accounts.encryption.EncryptedCharField(
                max_length=32, verbose_name="identity number"
            ),
        ),
        migrations.RunPython(encrypt_numbers, decrypt_numbers),
        migrations.AddConstraint(
            model_name="patient",
            constraint=models.UniqueConstraint(
                fields=("id_type", "id_number_hash"),
                name="patient_identity_unique",
                violation_error_message="A patient with this identity document already exists.",
            ),
        ),
    ]
