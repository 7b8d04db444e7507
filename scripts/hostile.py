"""A hostile run against a running CreditCare (``make run``), by hand, never in ``make test``.

About 6,000 requests that a careless integrator, a curious member of staff or an attacker
would send: the HIS API with broken bodies, headers and keys; the patient pages with forged
tokens, codes and NUL bytes; payment and SMS notifications with forged signatures; and every
admin list and change page, as every demo role, with lookups its filters do not offer,
out-of-range drill-downs, odd sorts and pages. It counts two failures:

* a **5xx**: an input the service did not expect;
* a **wrong acceptance**: a 2xx to something that must be refused (an invalid API body, a
  forged notification, a lookup probing a list, a page of another role).

Usage (the demo data of ``manage.py seed_demo``; its API keys are printed by
``manage.py seed_demo --json``)::

    .venv/bin/python scripts/hostile.py --base http://127.0.0.1:8000 --api-key <key>

The last line is ``hostile: requests=N 5xx=N wrong_acceptances=N``.
"""

import argparse
import json
import re
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import requests

ROLES = {
    "window": "window-demo-2026",
    "collector": "collector-demo-2026",
    "finance": "finance-demo-2026",
    "creditofficer": "credit-demo-2026",
    "admin": "admin-demo-2026",
}
NUL = "%00"
LONG = "9" * 5000

# Lookups no admin list offers: each must be refused, whatever the answer would have been.
PROBES = [
    "id__gt=0",
    "id_number__startswith=3301",
    "id_number__regex=^3",
    "id_number_hash__startswith=a",
    "phone__contains=138",
    "birth_date__gte=1900-01-01",
    "patient__id_number__startswith=3",
    "name__startswith=%E5%BC%A0",
    "password__startswith=pbkdf2",
    "key_hash__startswith=a",
    "code_hash__startswith=a",
]
# Query strings a list must answer with 200, 302 (Django's ?e=1) or a 4xx, never 5xx.
ODD = [
    f"q={NUL}",
    "q=%27%20OR%201%3D1--",
    f"q={LONG}",
    "q=%F0%9F%92%A5",
    "o=99",
    "o=-1.abc",
    "o=%00",
    "p=99999",
    "p=-1",
    "p=abc",
    "e=1",
    "all=",
    "_to_field=id_number",
    "_popup=1&_to_field=password",
    "created_at__year=9999&created_at__month=12&created_at__day=31",
    "started_at__year=9999&started_at__month=12&started_at__day=31",
    "closed_at__year=0&closed_at__month=13",
    "promised_date__year=abc",
    "status__exact=%00",
    "status__exact=" + LONG[:300],
    "kind__exact=%00",
    "pool__exact=nope",
    "institution__id__exact=abc",
    "institution__id__exact=99999999999999999999",
    "agreement__status__exact=%00",
    "resident_of_region__exact=maybe",
    "revoked_at__isempty=x",
    "q=13800000001",
    "q=138",
    "o=1.2.3.4.5.6.7.8.9",
]
CHANGE = ["%00", "abc", "99999999999999999999", "-1", "1.5", "1%20OR%201", "0", "%E5%BC%A0"]


@dataclass
class Tally:
    sent: int = 0
    errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    def check(self, what: str, answer: requests.Response, *, must_refuse: bool = False) -> None:
        self.sent += 1
        if answer.status_code >= 500:
            self.errors.append(f"{answer.status_code} {what}")
        elif must_refuse and answer.status_code < 300:
            self.wrong.append(f"{answer.status_code} {what}")


def staff_session(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    session.headers["Accept-Language"] = "zh-hans"
    page = session.get(f"{base}/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    answer = session.post(
        f"{base}/admin/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/admin/login/"},
        allow_redirects=False,
    )
    if answer.status_code != 302:
        sys.exit(f"cannot sign in as {username} (locked out? manage.py axes_reset)")
    return session


def admin_lists(session: requests.Session, base: str) -> list[str]:
    index = session.get(f"{base}/admin/").text
    return sorted(set(re.findall(r'href="(/admin/[a-z_]+/[a-z_]+/)"', index)))


def hostile_admin(base: str, tally: Tally) -> None:
    for username, password in ROLES.items():
        session = staff_session(base, username, password)
        for url in admin_lists(session, base):
            listing = session.get(base + url)
            tally.check(f"{username} GET {url}", listing)
            for probe in PROBES:
                answer = session.get(f"{base}{url}?{probe}", allow_redirects=False)
                # A refused lookup is a 400 (or Django's ?e=1 redirect): never the list.
                tally.check(f"{username} GET {url}?{probe}", answer, must_refuse=True)
            for odd in ODD:
                tally.check(f"{username} GET {url}?{odd[:60]}", session.get(f"{base}{url}?{odd}"))
            for pk in CHANGE:
                for tail in ("change/", "history/", "delete/"):
                    answer = session.get(f"{base}{url}{pk}/{tail}")
                    tally.check(f"{username} GET {url}{pk}/{tail}", answer)
            for pk in re.findall(rf'href="{url}(\d+)/change/', listing.text)[:2]:
                for tail in ("change/", "history/"):
                    tally.check(
                        f"{username} GET {url}{pk}/{tail}",
                        session.get(base + url + pk + "/" + tail),
                    )
        for odd in (NUL, "%27", LONG[:2000], "13800000001", "330183195803120313"):
            desk = session.get(f"{base}/admin/accounts/patient/desk/?q={odd}")
            tally.check(f"{username} desk ?q={odd[:20]}", desk)
        if username not in ("window", "admin"):  # the history shows identity numbers
            for pk in ("1", "2"):
                answer = session.get(f"{base}/admin/accounts/patient/{pk}/history/")
                tally.check(f"{username} patient history", answer, must_refuse=True)


def api_cases(key: str) -> Iterator[tuple[str, str, dict, object, bool]]:
    """(method, path, headers, body, must_refuse)."""
    good = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    for auth in ("", "Api-Key ", "Api-Key x.y", "Bearer abc", f"Api-Key {key}x", "Api-Key " + NUL):
        yield "GET", "/api/v1/bills/", {"Authorization": auth}, None, True
    bodies: list[object] = [
        None,
        "not json",
        "[]",
        "{}",
        '{"citizen_card": null}',
        '{"citizen_card": "\\u0000"}',
        '{"citizen_card": "DEMO0000001", "kind": "spa"}',
        '{"citizen_card": "' + "X" * 5000 + '", "kind": "outpatient"}',
        '{"citizen_card": "DEMO0000001", "kind": "outpatient", "his_visit_id": ""}',
        '{"citizen_card": 12345, "kind": "outpatient", "his_visit_id": "H1"}',
        '{"citizen_card": "NOBODY", "kind": "outpatient", "his_visit_id": "H1"}',
        '{"citizen_card": "DEMO0000001", "kind": "outpatient", "his_visit_id": "H1", '
        '"started_at": "9999-99-99"}',
    ]
    for body in bodies:
        headers = {**good, "Idempotency-Key": str(uuid.uuid4())}
        yield "POST", "/api/v1/visits/", headers, body, True
    charges = [
        "[]",
        '{"lines": []}',
        '{"lines": [{}]}',
        '{"lines": [{"his_line_id": "L1", "item_code": "A", "item_name": "x", "category": '
        '"spa", "quantity": "1", "unit_price": "1.00", "amount": "1.00", '
        '"self_pay_estimate": "1.00"}]}',
        '{"lines": [{"his_line_id": "L1", "item_code": "A", "item_name": "x", "category": '
        '"lab", "quantity": "1", "unit_price": "1.00", "amount": "-1.00", '
        '"self_pay_estimate": "1.00"}]}',
        '{"lines": [{"his_line_id": "L1", "item_code": "A", "item_name": "x", "category": '
        '"lab", "quantity": "1", "unit_price": "1.00", "amount": "1e400", '
        '"self_pay_estimate": "1.00"}]}',
        '{"lines": [{"his_line_id": "L1", "item_code": "A", "item_name": "x", "category": '
        '"lab", "quantity": "1", "unit_price": "1.00", "amount": "1.001", '
        '"self_pay_estimate": "1.00"}]}',
        '{"lines": [{"his_line_id": "L1", "item_code": "A", "item_name": "x", "category": '
        '"lab", "quantity": "1", "unit_price": "1.00", "amount": "", '
        '"self_pay_estimate": "1.00"}]}',
        '{"lines": [{"his_line_id": "\\u0000", "item_code": "A", "item_name": "x", '
        '"category": "lab", "quantity": "1", "unit_price": "1.00", "amount": "1.00", '
        '"self_pay_estimate": "1.00"}]}',
    ]
    for visit in ("1", "999999", "99999999999999999999", "abc", NUL, "-1"):
        for body in charges:
            for idem in (str(uuid.uuid4()), "", "x" * 300, "bad\tkey", NUL):
                headers = {**good, "Idempotency-Key": idem}
                yield "POST", f"/api/v1/visits/{visit}/charges/", headers, body, True
        for tail in ("", "close/", "charges/L1/void/"):
            for body in ("{}", '{"reason": ""}', '{"total": "abc"}', "null"):
                headers = {**good, "Idempotency-Key": str(uuid.uuid4())}
                yield "POST", f"/api/v1/visits/{visit}/{tail}", headers, body, True
        yield "GET", f"/api/v1/visits/{visit}/", good, None, False
        yield "GET", f"/api/v1/bills/{visit}/", good, None, False
    for query in (
        "status=",
        "status=nope",
        "status=%00",
        "page=-1",
        "page=abc",
        "page=99999",
        "cursor=abc",
        "citizen_card=" + NUL,
        "limit=100000",
    ):
        yield "GET", f"/api/v1/bills/?{query}", good, None, False
        yield "GET", f"/api/v1/visits/?{query}", good, None, False
    for method in ("PUT", "PATCH", "DELETE"):
        yield method, "/api/v1/visits/", good, "{}", True
    for card in ("DEMO0000001", NUL, "X" * 500, ""):
        yield "GET", f"/api/v1/eligibility/?citizen_card={card}&kind=outpatient", good, None, False
    yield "GET", "/api/v1/schema/", good, None, False
    yield "GET", "/api/v1/visits/", {**good, "Host": "evil.example"}, None, True


def hostile_api(base: str, key: str, tally: Tally) -> None:
    for method, path, headers, body, must_refuse in api_cases(key):
        try:
            answer = requests.request(method, base + path, headers=headers, data=body, timeout=30)
        except requests.exceptions.InvalidHeader:
            continue  # the client refuses to send it: so would any other
        tally.check(f"{method} {path} {str(body)[:60]}", answer, must_refuse=must_refuse)
        refused_in_json = "json" in answer.headers.get("Content-Type", "")
        if answer.status_code >= 400 and refused_in_json and "code" not in answer.json():
            tally.wrong.append(f"no error code: {method} {path}")


def hostile_patient(base: str, tally: Tally) -> None:
    session = requests.Session()
    tokens = ["x", NUL, "A" * 64, "A" * 65, "..%2F..%2Fetc", "%E2%80%AE", "1' OR '1"]
    for token in tokens:
        for tail in ("", "/bill/", "/receipt/"):
            tally.check(f"GET /p/{token}{tail}", session.get(f"{base}/p/{token}{tail}"))
        for tail, data in (("/code/", {}), ("/verify/", {"code": "000000"})):
            answer = session.post(f"{base}/p/{token}{tail}", data=data)
            tally.check(f"POST /p/{token}{tail}", answer, must_refuse=True)
        answer = session.post(f"{base}/p/{token}/pay/", data={"channel": "sandbox"})
        tally.check(f"POST /p/{token}/pay/", answer, must_refuse=True)
        for trade in (token, "CC" + "0" * 24):
            answer = session.post(f"{base}/pay/sandbox/{trade}/", data={"outcome": "paid"})
            tally.check(f"POST /pay/sandbox/{trade}/", answer, must_refuse=True)
    for phone in ("13800000001", "13899999999", "abc", NUL, "1" * 300, "+8613800000001", ""):
        for _ in range(3):
            answer = session.post(f"{base}/me/code/", data={"phone": phone})
            tally.check(f"POST /me/code/ {phone[:20]}", answer)
        for code in ("000000", "abc", NUL, "9" * 100):
            answer = session.post(f"{base}/me/verify/", data={"phone": phone, "code": code})
            tally.check(f"POST /me/verify/ {phone[:20]} {code[:10]}", answer)
    tally.check("GET /me/", session.get(f"{base}/me/"))
    for channel in ("sandbox", "alipay", "wechat", "nope", NUL):
        forged = [
            {},
            {"out_trade_no": "CC" + "0" * 24, "trade_status": "TRADE_SUCCESS", "sign": "x"},
            {"out_trade_no": NUL, "status": "PAID", "amount": "1.00", "sign": "abc"},
            {"out_trade_no": "x" * 5000, "sign": "abc"},
        ]
        for body in forged:
            answer = session.post(f"{base}/pay/notify/{channel}/", data=body)
            tally.check(f"POST /pay/notify/{channel}/ {str(body)[:40]}", answer, must_refuse=True)
        answer = session.post(
            f"{base}/pay/notify/{channel}/",
            data=json.dumps({"event_type": "TRANSACTION.SUCCESS"}),
            headers={"Content-Type": "application/json", "Wechatpay-Signature": "forged"},
        )
        tally.check(f"POST /pay/notify/{channel}/ json", answer, must_refuse=True)
    for body in ({}, {"MessageSid": "SM1", "MessageStatus": "delivered"}, {"MessageSid": NUL}):
        for signature in ("", "forged"):
            answer = session.post(
                f"{base}/sms/twilio/status/", data=body, headers={"X-Twilio-Signature": signature}
            )
            tally.check(f"POST /sms/twilio/status/ {body}", answer, must_refuse=True)
    for path in ("/admin/login/?next=" + NUL, "/healthz", "/nothing/" + NUL, "/admin/" + NUL):
        tally.check(f"GET {path}", session.get(base + path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--api-base", help="the API's own process (default: --base)")
    parser.add_argument("--api-key", required=True, help="a demo HIS key (seed_demo --json)")
    args = parser.parse_args()
    base = args.base.rstrip("/")
    tally = Tally()
    hostile_api((args.api_base or base).rstrip("/"), args.api_key, tally)
    hostile_patient(base, tally)
    hostile_admin(base, tally)
    for line in tally.errors[:30] + tally.wrong[:30]:
        print(line)
    print(
        f"hostile: requests={tally.sent} 5xx={len(tally.errors)} "
        f"wrong_acceptances={len(tally.wrong)}"
    )


if __name__ == "__main__":
    main()
