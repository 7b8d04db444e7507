"""gunicorn settings for production (and the bench): `gunicorn -c creditcare/gunicorn.conf.py`.

One process per core, each with threads: a request is mostly Python (one process can run
one thread of it at a time) with short waits on PostgreSQL, which the threads fill, and
threads give the HIS clients HTTP keep-alive (creditcare/workers.py: a thread serves a
kept-alive connection's requests in a row while there is a thread per connection). More
processes than cores only made them take turns: on 2 cores 2x8 served about 15% more
charges than 5x4, at a lower p99 (README, Speed). Tune with GUNICORN_WORKERS / GUNICORN_THREADS.
"""

import multiprocessing
import os

wsgi_app = "creditcare.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
worker_class = "creditcare.workers.KeepAliveThreadWorker"  # gthread, lighter on keep-alive
threads = int(os.environ.get("GUNICORN_THREADS", 8))
keepalive = 30
timeout = 30
graceful_timeout = 20
max_requests = 100_000  # recycle workers now and then (a new one costs ~1 s of CPU to start)
max_requests_jitter = 10_000
# The workers' heartbeat file, touched on every loop: in memory where the system has it.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = os.environ.get("GUNICORN_ACCESS_LOG")  # e.g. "-" for stdout; off by default


def post_worker_init(worker) -> None:
    """Import the URLconf, and with it every view, before the first request rather than in it:
    a new worker (and one recycled by max_requests) would otherwise spend its first request's
    time importing the admin, the API and their dependencies."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - a cached property; reading it loads them
