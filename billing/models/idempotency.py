"""The first answer to each Idempotency-Key of the HIS API."""

from django.db import models

from accounts.models import Institution


class IdempotencyRecord(models.Model):
    """The first answer to an ``Idempotency-Key``, kept so a retry gets it again.

    ``(institution, key)`` is unique; ``request_hash`` tells a retry from a reuse of the key
    for another request. A record without a response is in flight since ``started_at``.
    """

    # db_index=False: idempotency_key_unique (institution, key) serves lookups by institution.
    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    started_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["institution", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return self.key
