"""The gunicorn worker of production (``creditcare/gunicorn.conf.py``).

gunicorn's threaded worker hands each request of a kept-alive connection from its main
thread (which polls the idle connections) to a thread of its pool, and the connection back
after the answer: two thread switches, a pipe write and read and two epoll changes per
request. An HIS posts its charges one after the other on one connection, so here the thread
that answered a request waits a moment on the connection for the next one and answers it
too, while the worker has a thread for each of its connections (then no connection can
wait for a thread). That made 12% to 20% more charges per second (README, Speed).

Behind a proxy that keeps connections to gunicorn (nginx's upstream ``keepalive``), keep
its pool within workers x threads, or the worker works as gthread does.
"""

import select
import ssl
import time

from gunicorn.workers.gthread import TConn, ThreadWorker

# How long a thread waits on its connection for the next request before handing the
# connection back to the main thread's poller (at most the keep-alive timeout); and how
# often it looks up from that wait to see whether another connection came, which then waits
# that long for a thread at most.
LINGER = 2.0
LOOK_UP_EVERY = 0.05


class KeepAliveThreadWorker(ThreadWorker):
    def handle(self, conn: TConn) -> bool | object:  # object: gthread's _DEFER
        keepalive = super().handle(conn)
        while keepalive is True and self.next_request_here(conn):
            keepalive = super().handle(conn)
        return keepalive

    def next_request_here(self, conn: TConn) -> bool:
        """Whether the connection's next request came within LINGER, while this thread may
        keep it: the worker serving and with no more connections than threads."""
        # Bytes read already, as gthread's finish_request checks (a pipelined request), or
        # decrypted already, which the socket's poll does not show.
        if conn.parser.unreader.buf.getvalue() or (
            isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending()
        ):
            return True
        poll = select.poll()
        poll.register(conn.sock, select.POLLIN)
        give_up = time.monotonic() + min(LINGER, self.cfg.keepalive)
        while self.alive and self.nr_conns <= self.cfg.threads:
            if poll.poll(LOOK_UP_EVERY * 1000):
                return True  # a request, or the client hung up: handle() tells which
            if time.monotonic() > give_up:
                break
        return False
