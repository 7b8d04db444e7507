"""gunicorn settings for production (and the bench): `gunicorn -c creditcare/gunicorn.conf.py`.

Threads give HTTP keep-alive to the HIS clients; several processes use every core (the
GIL binds each to one). Tune with GUNICORN_WORKERS / GUNICORN_THREADS.
"""

import multiprocessing
import os

wsgi_app = "creditcare.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 4))
keepalive = 30
timeout = 30
graceful_timeout = 20
max_requests = 20000  # recycle workers now and then
max_requests_jitter = 2000
accesslog = os.environ.get("GUNICORN_ACCESS_LOG")  # e.g. "-" for stdout; off by default
