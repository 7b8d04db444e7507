"""Writes of the SMS outbox. ``sms_queue`` (one message) and ``sms_queue_many`` (a batch:
reminders) are called inside the transaction of their cause; the rest runs in Celery tasks."""

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import groupby

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.template.loader import get_template
from django.utils import timezone, translation

from creditcare.batching import batched
from creditcare.bulk import rows_insert
from notifications.backends import (
    PermanentSmsError,
    TransientSmsError,
    UncertainSmsError,
    get_backend,
)
from notifications.models import SmsMessage, SmsStatus

logger = logging.getLogger(__name__)

# template -> a check run when a worker claims the message: False cancels it, a time holds it
# until then. Registered by the app that owns the cause (see ``send_check``).
SendCheck = Callable[[SmsMessage], bool | dt.datetime]
_send_checks: dict[str, SendCheck] = {}


def send_check(template: str):
    """Register ``check(message) -> bool | datetime`` for a template: is the message still
    wanted (False: cancel it), and now (a datetime: not before then)?"""

    def register(check: SendCheck) -> SendCheck:
        _send_checks[template] = check
        return check

    return register


@dataclass(frozen=True, kw_only=True)
class Sms:
    """One message to write: what ``sms_queue`` takes, for ``sms_queue_many``."""

    to: str
    template: str
    context: dict
    dedup_key: str
    language: str | None = None

    def message(self) -> SmsMessage:
        """The unsaved outbox row, its text rendered in its language."""
        (row,) = _rows([self])
        return SmsMessage(**row)


def _rows(messages: Iterable[Sms]) -> list[dict[str, str]]:
    """The columns each message has of its own, in order, its text rendered from its
    template in its language: the one way a text is made, for ``sms_queue`` and
    ``sms_queue_many``. A run of messages of the same template and language is rendered
    under one switch of language (for a batch of reminders, switching per message cost as
    much as the rendering)."""

    def kind(sms: Sms) -> tuple[str, str]:
        return sms.template, sms.language or settings.SMS_DEFAULT_LANGUAGE

    rows = []
    for (template, language), run in groupby(messages, key=kind):
        compiled = get_template(f"sms/{template}.txt")
        with translation.override(language):
            rows += [
                {
                    "to": str(sms.to),
                    "template": template,
                    "body": compiled.render(sms.context).strip(),
                    "language": language,
                    "dedup_key": sms.dedup_key,
                }
                for sms in run
            ]
    return rows


def sms_queue(
    *, to: str, template: str, context: dict, dedup_key: str, language: str | None = None
) -> SmsMessage:
    """Write the message in the caller's transaction; it is sent after commit.

    The same ``dedup_key`` again returns the first message: one cause, one SMS.
    """
    existing = SmsMessage.objects.filter(dedup_key=dedup_key).first()
    if existing:
        return existing
    draft = Sms(
        to=to, template=template, context=context, dedup_key=dedup_key, language=language
    ).message()
    message, created = SmsMessage.objects.get_or_create(
        dedup_key=dedup_key,
        defaults={f: getattr(draft, f) for f in ("to", "template", "body", "language")},
    )
    if created:
        # robust: a broker hiccup must not fail the request; the sweep sends it later.
        transaction.on_commit(lambda: send_sms.delay(message.pk), robust=True)
    return message


# Rows per INSERT (one array parameter per column, so a chunk is bounded by memory, not by
# PostgreSQL's 65,535 parameters), and messages per sending task: small enough that a batch
# spreads over every worker of the bulk queue.
SMS_INSERT_CHUNK = 1000
SMS_SEND_CHUNK = 100


def sms_queue_many(messages: Sequence[Sms]) -> list[int]:
    """Write many messages in the caller's transaction, one statement per thousand; they are
    sent after commit by ``send_sms_chunk`` tasks, on a queue of their own (``sms-bulk``) so
    that a morning of reminders never holds up a verification code. They are marked ``bulk``:
    the sweep sends them again there too. A statement's rows share one ``created_at``.

    A ``dedup_key`` already in the outbox (or twice in ``messages``) is skipped, as
    ``sms_queue`` would return the first message. Returns the ids of the messages written.
    """
    ids: list[int] = []
    for chunk in batched(messages, SMS_INSERT_CHUNK):
        ids += _insert_new(_rows(chunk), bulk=True)
    ids.sort()
    for chunk in batched(ids, SMS_SEND_CHUNK):
        # robust: as in sms_queue; the sweep sends what a lost task did not.
        transaction.on_commit(partial(send_sms_chunk.delay, chunk), robust=True)
    return ids


def _insert_new(rows: list[dict[str, str]], *, bulk: bool) -> list[int]:
    """The rows written, skipping a ``dedup_key`` already in the outbox: their ids. Every
    other column is what ``save()`` would write for a new message (the model's defaults,
    ``created_at`` from the clock)."""
    columns = {name: [row[name] for row in rows] for name in rows[0]} if rows else {}
    return rows_insert(
        SmsMessage,
        columns | {"bulk": bulk, "created_at": timezone.now()},
        count=len(rows),
        skip_conflicts_on="dedup_key",
    )


def sms_send(*, message_id: int) -> SmsMessage:
    """Send one queued message, at most once.

    Raises ``TransientSmsError`` when a retry later may succeed (the task retries).
    """
    now = timezone.now()
    claimed = SmsMessage.objects.filter(pk=message_id, status=SmsStatus.QUEUED).update(
        status=SmsStatus.SENDING, claimed_at=now
    )
    message = SmsMessage.objects.get(pk=message_id)
    if not claimed:
        return message  # sent already, being sent by another worker, or given up
    check = _send_checks.get(message.template)
    verdict = check(message) if check else True
    if verdict is False:
        _record(message, SmsStatus.CANCELLED, error="no longer wanted")
        return message
    if isinstance(verdict, dt.datetime):  # back in the queue; the sweep sends it then
        SmsMessage.objects.filter(pk=message_id).update(
            status=SmsStatus.QUEUED, claimed_at=None, not_before=verdict
        )
        message.refresh_from_db()
        return message
    message.attempts += 1
    try:
        sent = get_backend().send(to=message.to, body=message.body, reference=message.dedup_key)
    except TransientSmsError as error:
        final = message.attempts >= settings.SMS_MAX_ATTEMPTS
        _record(message, SmsStatus.FAILED if final else SmsStatus.QUEUED, error=str(error))
        if not final:
            raise
        return message
    except PermanentSmsError as error:
        _record(message, SmsStatus.FAILED, error=str(error))
        return message
    except UncertainSmsError as error:
        _record(message, SmsStatus.SENDING, error=str(error))  # the sweep asks the provider
        return message
    _record(message, SmsStatus.SENT, provider_message_id=sent.provider_message_id)
    return message


def _record(message: SmsMessage, status: str, *, error: str = "", provider_message_id=None):
    message.status = status
    message.last_error = error
    fields = ["status", "last_error", "attempts"]
    if provider_message_id:
        message.provider_message_id = provider_message_id
        message.sent_at = timezone.now()
        fields += ["provider_message_id", "sent_at"]
    SmsMessage.objects.filter(pk=message.pk).update(**{f: getattr(message, f) for f in fields})
    if error:
        logger.warning("SMS %s (%s): %s -> %s", message.pk, message.template, error, status)


def sms_reconcile_stuck(*, now: dt.datetime | None = None) -> int:
    """Pick up what a worker did not finish. Returns how many messages were moved or resent.

    * ``sending`` too long (a worker died, or the provider did not answer): found at the
      provider -> sent; not found -> queued again and re-sent.
    * ``queued`` too long (the task was never enqueued: the broker was down at commit, or
      the task was lost), or held until now: sent again (the claim makes a duplicate task
      harmless).

    Each goes back to the queue it was first sent on: what ``sms_queue_many`` wrote in
    chunks on ``sms-bulk``, so that the reminders held overnight never go out on the queue
    of codes and receipts at 08:00.
    """

    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.SMS_STUCK_SECONDS)
    backend = get_backend()
    moved = 0
    again: dict[int, bool] = {}  # message id -> sent in bulk
    stuck = SmsMessage.objects.filter(status=SmsStatus.SENDING, claimed_at__lt=cutoff)
    for message in stuck.order_by("pk")[:500]:
        try:
            found = backend.find_sent(to=message.to, body=message.body, since=message.claimed_at)
        except TransientSmsError as error:
            logger.warning("SMS %s: cannot ask the provider yet: %s", message.pk, error)
            continue
        if (
            found
            and SmsMessage.objects.filter(provider_message_id=found.provider_message_id).exists()
        ):
            found = None  # that one is another message of ours with the same text
        update = (
            {
                "status": SmsStatus.SENT,
                "provider_message_id": found.provider_message_id,
                "sent_at": now,
            }
            if found
            else {"status": SmsStatus.QUEUED}
        )
        # Compare-and-swap: only if nobody moved it meanwhile.
        if SmsMessage.objects.filter(
            pk=message.pk, status=SmsStatus.SENDING, claimed_at=message.claimed_at
        ).update(**update):
            moved += 1
            if not found:
                again[message.pk] = message.bulk
    forgotten = SmsMessage.objects.filter(status=SmsStatus.QUEUED, created_at__lt=cutoff).filter(
        Q(not_before=None) | Q(not_before__lte=now)
    )
    # A share for each kind: a morning's backlog of reminders never holds up a lost code.
    for bulk in (False, True):
        resent = list(forgotten.filter(bulk=bulk).order_by("pk").values_list("pk", flat=True)[:500])
        again.update(dict.fromkeys(resent, bulk))
        moved += len(resent)
    _send_again(again)
    return moved


def _send_again(messages: dict[int, bool]) -> None:
    """Enqueue messages (id -> sent in bulk) again as they were first: one task each on the
    ``sms`` queue, or in chunks on ``sms-bulk``."""
    for message_id, bulk in messages.items():
        if not bulk:
            send_sms.delay(message_id)
    for chunk in batched(sorted(pk for pk, bulk in messages.items() if bulk), SMS_SEND_CHUNK):
        send_sms_chunk.delay(chunk)


TWILIO_STATUSES = {
    # Twilio MessageStatus -> what it means for us
    "delivered": "deliver",
    "undelivered": "undeliver",
    "failed": "undeliver",
}


def sms_delivery_report(*, provider_message_id: str, provider_status: str, error: str = "") -> bool:
    """A delivery receipt. Unknown ids and in-between statuses change nothing."""
    action = TWILIO_STATUSES.get(provider_status)
    if action is None:
        return False
    with transaction.atomic():
        message = (
            SmsMessage.objects.select_for_update()
            .filter(provider_message_id=provider_message_id)
            .first()
        )
        if message is None:
            return False
        transition = getattr(message, action)
        from django_fsm import can_proceed

        if not can_proceed(transition):
            return False
        transition()
        if action == "deliver":
            message.delivered_at = timezone.now()
        else:
            message.last_error = error or f"provider status {provider_status}"
        message.save(update_fields=["status", "delivered_at", "last_error"])
    return True


# Retries after a provider hiccup: 30 s, 60 s, 120 s, ... up to half an hour, with jitter.
RETRY_BACKOFF, RETRY_BACKOFF_MAX = 30, 1800


# Defined beside the service that queues it (no import cycle), under the name it always had.
# Routed to the "sms" queue (CELERY_TASK_ROUTES): codes, receipts, payment notices.
@shared_task(
    name="notifications.tasks.send_sms",
    bind=True,
    acks_late=True,
    autoretry_for=(TransientSmsError,),
    retry_backoff=RETRY_BACKOFF,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    max_retries=None,  # sms_send gives up after SMS_MAX_ATTEMPTS
)
def send_sms(self, message_id: int) -> str:
    """Send one message; a duplicate or retried task finds it claimed or sent and does nothing."""
    return sms_send(message_id=message_id).status


# Routed to the "sms-bulk" queue (CELERY_TASK_ROUTES): what sms_queue_many wrote.
@shared_task(
    name="notifications.tasks.send_sms_chunk",
    bind=True,
    acks_late=True,
    max_retries=None,  # sms_send gives up after SMS_MAX_ATTEMPTS
)
def send_sms_chunk(self, message_ids: list[int]) -> int:
    """Send messages one after the other, each at most once (``sms_send`` claims it), so a
    redelivered chunk sends nothing twice. Those the provider turned away for now are retried
    together later, as ``send_sms`` retries one. Returns how many were tried."""
    again = []
    for message_id in message_ids:
        try:
            sms_send(message_id=message_id)
        except TransientSmsError:
            again.append(message_id)
    if again:
        delay = get_exponential_backoff_interval(
            RETRY_BACKOFF, self.request.retries, RETRY_BACKOFF_MAX, full_jitter=True
        )
        raise self.retry(args=(again,), countdown=delay)
    return len(message_ids)
