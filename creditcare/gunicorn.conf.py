"""gunicorn settings for production (and the bench): `gunicorn -c creditcare/gunicorn.conf.py`.

Django's WSGI application in gunicorn's threaded worker (gthread): one process per core,
each with threads. A request is mostly Python (a process runs one thread of it at a time)
with short waits on PostgreSQL, which the other threads fill; threads also keep the HIS
clients' connections alive between requests. Tune with GUNICORN_WORKERS / GUNICORN_THREADS
(docs/deployment.md).
"""

import multiprocessing
import os

wsgi_app = "creditcare.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 8))
keepalive = 30
timeout = 30
graceful_timeout = 20
max_requests = 100_000  # recycle workers now and then
max_requests_jitter = 10_000
# The workers' heartbeat file, touched on every loop: in memory where the system has it.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = os.environ.get("GUNICORN_ACCESS_LOG")  # e.g. "-" for stdout; off by default
