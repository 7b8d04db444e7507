#!/usr/bin/env bash
# make run: migrate, load the demo, then the web server, a Celery worker and beat together.
# With no environment: the embedded PostgreSQL and a filesystem broker under var/. With
# DATABASE_URL and REDIS_URL set: those servers.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG="${DEBUG:-1}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
API_PORT="${API_PORT:-$((PORT + 1))}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://$HOST:$PORT}"
PY=.venv/bin/python
mkdir -p var/log

$PY manage.py migrate --no-input
$PY manage.py seed_demo

# One worker with an embedded beat is enough on one machine; production runs them apart.
# Without -Q it serves every queue of CELERY_TASK_QUEUES (celery, sms, sms-bulk).
.venv/bin/celery -A creditcare worker -B --loglevel=INFO --concurrency=2 \
  >var/log/celery.log 2>&1 &
CELERY_PID=$!
# The HIS API in its own process with its own settings, as production runs it.
DJANGO_SETTINGS_MODULE=creditcare.settings_api $PY manage.py runserver "$HOST:$API_PORT" \
  >var/log/api.log 2>&1 &
API_PID=$!
trap 'kill $CELERY_PID $API_PID 2>/dev/null || true; wait $CELERY_PID $API_PID 2>/dev/null || true' \
  EXIT INT TERM

echo
echo "Celery worker + beat: pid $CELERY_PID, log in var/log/celery.log"
echo "HIS API: http://$HOST:$API_PORT/api/v1/ (docs: /api/v1/docs/), log in var/log/api.log"
echo "Admin: $PUBLIC_BASE_URL/admin/  (demo logins above; window staff: window / window-demo-2026)"
echo
$PY manage.py runserver "$HOST:$PORT"
