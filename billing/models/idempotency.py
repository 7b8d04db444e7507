"""The first answer to each Idempotency-Key of the HIS API."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Institution


class IdempotencyRecord(models.Model):
    """The first answer to an ``Idempotency-Key``, kept so a retry gets it again.

    ``(institution, key)`` is unique; ``request_hash`` tells a retry from a reuse of the key
    for another request. A record without a response is in flight since ``started_at``.
    """

    # db_index=False: idempotency_key_unique (institution, key) serves lookups by institution.
    institution = models.ForeignKey(
        Institution,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        verbose_name=_("institution"),
    )
    key = models.CharField(max_length=255, verbose_name=_("idempotency key"))
    request_hash = models.CharField(max_length=64, verbose_name=_("request hash"))
    response_status = models.PositiveSmallIntegerField(null=True, verbose_name=_("response status"))
    response_body = models.JSONField(null=True, verbose_name=_("response body"))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    created_at = models.DateTimeField(
        auto_now_add=True, db_index=True, verbose_name=_("created at")
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["institution", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return self.key
