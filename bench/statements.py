"""The SQL statements one charge request makes, counted in process through the whole stack:
Django's middleware, DRF's dispatch, API key authentication (a cache hit after the key's
first use in a process, as in the load), the transaction (BEGIN, COMMIT), the
Idempotency-Key. Run with the bench's DATABASE_URL; prints the count.
"""

import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditcare.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

key, card = sys.argv[1], sys.argv[2]
client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}", HTTP_HOST="127.0.0.1")
visit = client.post(
    "/api/v1/visits/",
    {"citizen_card": card, "kind": "outpatient", "his_visit_id": uuid.uuid4().hex},
    content_type="application/json",
).json()
charge = {
    "his_line_id": "L1",
    "item_code": "LAB01",
    "item_name": "Blood count",
    "category": "lab",
    "quantity": "1",
    "unit_price": "1.50",
    "amount": "1.50",
}
with CaptureQueriesContext(connection) as statements:
    answer = client.post(
        f"/api/v1/visits/{visit['id']}/charges/",
        charge,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
assert answer.status_code == 201, answer.content
if os.environ.get("BENCH_SHOW_SQL"):
    for query in statements:
        print(query["sql"][:200], file=sys.stderr)
print(len(statements))
