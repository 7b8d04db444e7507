"""The SMS outbox: written with its cause, sent once, retried, reconciled, reported."""

import datetime as dt
import json
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.management import call_command
from django.utils import timezone
from twilio.request_validator import RequestValidator

from notifications.backends import TransientSmsError, locmem
from notifications.models import SmsMessage, SmsStatus
from notifications.services import sms_queue, sms_reconcile_stuck, sms_send
from tests.fake_http import Answer, FakeServer

pytestmark = pytest.mark.django_db

PHONE = "+8613812345678"


@pytest.fixture(autouse=True)
def empty_phone_network():
    locmem.outbox.clear()


def queue(key="visit-opened:1", to=PHONE):
    return sms_queue(
        to=to,
        template="visit_started",
        context={"patient_name": "张伟", "institution": "第一人民医院"},
        dedup_key=key,
    )


def test_one_dedup_key_one_message_sent_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = queue()
        again = queue()
    assert first.pk == again.pk
    # A retried task, a duplicate delivery of the task, a second beat: still one SMS.
    sms_send(message_id=first.pk)
    sms_send(message_id=first.pk)
    assert len(locmem.outbox) == 1
    first.refresh_from_db()
    assert (first.status, first.attempts) == (SmsStatus.SENT, 1)
    assert first.provider_message_id == locmem.outbox[0]["sid"]


def test_texts_are_chinese_by_default_and_english_on_request():
    chinese = queue("a")
    english = sms_queue(
        to=PHONE,
        template="visit_started",
        context={"patient_name": "Zhang Wei", "institution": "First Hospital"},
        dedup_key="b",
        language="en",
    )
    assert "就诊" in chinese.body
    assert "visit" in english.body
    assert len(chinese.body) <= 70  # one SMS segment in Chinese


@pytest.fixture
def twilio(settings):
    with FakeServer() as server:
        settings.SMS_BACKEND = "twilio"
        settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
        settings.TWILIO_AUTH_TOKEN = "token-from-env"
        settings.TWILIO_FROM = "+15005550006"
        settings.TWILIO_API_BASE_URL = server.url
        settings.TWILIO_TIMEOUT = 0.5
        settings.PUBLIC_BASE_URL = "https://pay.example.cn"
        yield server


def created(sid="SM" + "a" * 32):
    return Answer(201, {"sid": sid, "status": "queued", "to": PHONE, "body": "x"})


def test_twilio_sends_through_the_real_client(twilio):
    twilio.respond = lambda request: created()
    message = queue()
    sms_send(message_id=message.pk)

    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (SmsStatus.SENT, "SM" + "a" * 32)
    (request,) = twilio.requests
    assert request.path == "/2010-04-01/Accounts/AC" + "1" * 32 + "/Messages.json"
    form = parse_qs(request.body.decode())
    assert form["To"] == [PHONE] and form["From"] == ["+15005550006"]
    assert form["Body"] == [message.body]
    assert form["StatusCallback"] == ["https://pay.example.cn/sms/twilio/status/"]
    assert request.headers["Authorization"].startswith("Basic ")


def test_twilio_4xx_fails_for_good(twilio):
    twilio.respond = lambda request: Answer(
        400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}
    )
    message = queue()
    sms_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == SmsStatus.FAILED
    assert "21211" in message.last_error


def test_twilio_5xx_is_retried_then_succeeds(twilio):
    answers = iter([Answer(503, {"code": 20503, "message": "busy", "status": 503}), created()])
    twilio.respond = lambda request: next(answers)
    message = queue()
    with pytest.raises(TransientSmsError):
        sms_send(message_id=message.pk)  # the Celery task retries on this
    message.refresh_from_db()
    assert (message.status, message.attempts) == (SmsStatus.QUEUED, 1)
    sms_send(message_id=message.pk)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (SmsStatus.SENT, 2)


def test_transient_failures_stop_after_the_last_attempt(twilio, settings):
    settings.SMS_MAX_ATTEMPTS = 2
    twilio.respond = lambda request: Answer(500, {"code": 1, "message": "down", "status": 500})
    message = queue()
    with pytest.raises(TransientSmsError):
        sms_send(message_id=message.pk)
    sms_send(message_id=message.pk)  # the second failure is the last: no raise, no retry
    message.refresh_from_db()
    assert (message.status, message.attempts) == (SmsStatus.FAILED, 2)


def test_a_timeout_is_never_resent_blindly(twilio):
    """Twilio may have sent it: the sweep asks Twilio first, and only resends if not found."""
    sent_sid = "SM" + "b" * 32
    state = {"lost": True}

    def respond(request):
        if request.method == "POST":
            return Answer(201, {"sid": sent_sid, "status": "queued"}, delay=2.0)
        body = [{"sid": sent_sid, "to": PHONE, "body": message.body}] if state["lost"] else []
        return Answer(200, {"messages": body, "next_page_uri": None})

    twilio.respond = respond
    message = queue()
    sms_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == SmsStatus.SENDING  # unknown outcome: not retried now

    later = timezone.now() + dt.timedelta(minutes=10)
    assert sms_reconcile_stuck(now=later) == 1
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (SmsStatus.SENT, sent_sid)
    assert sum(r.method == "POST" for r in twilio.requests) == 1


def test_a_message_lost_in_sending_is_sent_again(twilio):
    twilio.respond = lambda request: (
        Answer(200, {"messages": [], "next_page_uri": None})
        if request.method == "GET"
        else created("SM" + "c" * 32)
    )
    message = queue()
    SmsMessage.objects.filter(pk=message.pk).update(
        status=SmsStatus.SENDING, claimed_at=timezone.now() - dt.timedelta(minutes=30)
    )
    assert sms_reconcile_stuck() == 1  # not at Twilio: queued again and sent (eager task)
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (SmsStatus.SENT, "SM" + "c" * 32)


def signed_post(
    client, data, token="token-from-env", url="https://pay.example.cn/sms/twilio/status/"
):
    signature = RequestValidator(token).compute_signature(url, data)
    return client.post("/sms/twilio/status/", data, HTTP_X_TWILIO_SIGNATURE=signature)


def test_delivery_receipts_with_a_valid_signature(twilio, client):
    twilio.respond = lambda request: created()
    message = sms_send(message_id=queue().pk)

    response = signed_post(
        client, {"MessageSid": message.provider_message_id, "MessageStatus": "delivered"}
    )

    assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == SmsStatus.DELIVERED and message.delivered_at


def test_a_bad_signature_is_403_and_changes_nothing(twilio, client):
    twilio.respond = lambda request: created()
    message = sms_send(message_id=queue().pk)
    data = {"MessageSid": message.provider_message_id, "MessageStatus": "delivered"}
    assert signed_post(client, data, token="someone-else").status_code == 403
    assert client.post("/sms/twilio/status/", data).status_code == 403
    message.refresh_from_db()
    assert message.status == SmsStatus.SENT


def test_undelivered_and_unknown_receipts(twilio, client):
    twilio.respond = lambda request: created()
    message = sms_send(message_id=queue().pk)
    data = {
        "MessageSid": message.provider_message_id,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
    }
    assert signed_post(client, data).status_code == 204
    message.refresh_from_db()
    assert message.status == SmsStatus.FAILED and "30003" in message.last_error
    assert (
        signed_post(client, {"MessageSid": "SMnope", "MessageStatus": "delivered"}).status_code
        == 204
    )


def test_sms_outbox_command(capsys):
    for n in range(3):
        sms_send(message_id=queue(f"k{n}").pk)
    queue("other", to="+8613900000000")

    call_command("sms_outbox", "--to", "138 1234 5678", "--last", "2", "--json")
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    assert len(rows) == 2
    assert set(rows[0]) == {"id", "to", "template", "body", "status", "created_at"}
    assert {r["to"] for r in rows} == {PHONE}

    call_command("sms_outbox", "--to", "13812345678")
    assert "visit_started" in capsys.readouterr().out


def test_the_outbox_in_the_admin_is_searchable_by_phone(admin_client):
    queue()
    queue("other", to="+8613900000000")
    page = admin_client.get("/admin/notifications/smsmessage/", {"q": "13812345678"})
    assert page.status_code == 200
    body = page.content.decode()
    assert PHONE in body and "+8613900000000" not in body


def test_urls_in_the_callback_carry_no_personal_data(twilio):
    twilio.respond = lambda request: created()
    sms_send(message_id=queue().pk)
    callback = parse_qs(twilio.requests[0].body.decode())["StatusCallback"][0]
    assert urlparse(callback).query == ""


def test_a_message_never_handed_to_the_broker_is_sent_by_the_sweep():
    message = queue()  # in a test transaction: its on-commit task never ran
    SmsMessage.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=10)
    )
    assert sms_reconcile_stuck() == 1
    message.refresh_from_db()
    assert message.status == SmsStatus.SENT
    assert len(locmem.outbox) == 1
