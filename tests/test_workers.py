"""The production gunicorn worker (``creditcare.workers``): its wait for a connection's
next request on a socket pair, then run by gunicorn itself on a listening socket of the
test's, serving a small WSGI application with one thread, so that any connection waiting
for a thread would show."""

import io
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from creditcare import workers
from creditcare.workers import KeepAliveThreadWorker


@pytest.fixture
def worker() -> KeepAliveThreadWorker:
    """The worker as gunicorn has it while serving (one connection, one thread), without
    gunicorn's process set-up."""
    worker = KeepAliveThreadWorker.__new__(KeepAliveThreadWorker)
    worker.alive, worker.nr_conns = True, 1
    worker.cfg = SimpleNamespace(threads=1, keepalive=30)
    return worker


@pytest.fixture
def connection() -> Iterator[tuple[SimpleNamespace, socket.socket]]:
    """A kept-alive connection as gthread holds it (its socket and the parser's read-ahead
    buffer), and the client's end."""
    ours, client = socket.socketpair()
    parser = SimpleNamespace(unreader=SimpleNamespace(buf=io.BytesIO()))
    yield SimpleNamespace(sock=ours, parser=parser), client
    ours.close()
    client.close()


def waiting(worker, conn) -> tuple[threading.Thread, list[bool]]:
    """``next_request_here`` running in a thread of its own, as in a worker's pool."""
    answer: list[bool] = []
    thread = threading.Thread(target=lambda: answer.append(worker.next_request_here(conn)))
    thread.start()
    return thread, answer


def test_the_thread_waits_for_the_connections_next_request(worker, connection):
    conn, client = connection
    thread, answer = waiting(worker, conn)
    client.sendall(get("/next"))
    thread.join(timeout=workers.LINGER / 2)
    assert answer == [True]


def test_a_request_read_ahead_is_served_at_once(worker, connection):
    conn, _client = connection
    conn.parser.unreader.buf.write(get("/pipelined"))
    assert worker.next_request_here(conn) is True


def test_a_client_that_hangs_up_is_seen_at_once(worker, connection):
    conn, client = connection
    client.close()
    assert worker.next_request_here(conn) is True  # handle() then finds no more data


def test_a_quiet_connection_goes_back_to_the_poller_after_the_keep_alive(worker, connection):
    conn, _client = connection
    worker.cfg.keepalive = 0.1  # shorter than LINGER: the wait is cut to it
    thread, answer = waiting(worker, conn)
    thread.join(timeout=workers.LINGER / 2)
    assert answer == [False]


@pytest.mark.parametrize("change", ["another connection", "the worker stops"])
def test_the_wait_ends_soon_when_the_thread_is_wanted_elsewhere(worker, connection, change):
    conn, _client = connection
    thread, answer = waiting(worker, conn)
    if change == "another connection":
        worker.nr_conns = 2  # more connections than threads: one may wait for this thread
    else:
        worker.alive = False
    thread.join(timeout=workers.LINGER / 2)
    assert answer == [False]


def app(environ, start_response):
    body = environ["PATH_INFO"].encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    listener = socket.create_server(("127.0.0.1", 0))
    command = [sys.executable, "-m", "gunicorn", "--bind", f"fd://{listener.fileno()}"]
    command += ["--worker-class", "creditcare.workers.KeepAliveThreadWorker"]
    command += ["--workers", "1", "--threads", "1", "--keep-alive", "30", "--log-level", "warning"]
    command += ["tests.test_workers:app"]
    process = subprocess.Popen(command, pass_fds=[listener.fileno()])
    try:
        yield listener.getsockname()
    finally:
        process.terminate()
        process.wait(timeout=30)
        listener.close()


def connect(server, timeout: float = 30) -> socket.socket:
    return socket.create_connection(server, timeout=timeout)


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode()


def answers(sock: socket.socket, count: int) -> list[bytes]:
    """The bodies of the next ``count`` answers on the connection."""
    data, bodies = b"", []
    while len(bodies) < count:
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536) or pytest.fail("the server closed the connection")
        head, _, data = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        while len(data) < length:
            data += sock.recv(65536)
        bodies.append(data[:length])
        data = data[length:]
    return bodies


def test_a_kept_alive_connection_is_answered_request_after_request(server):
    with connect(server) as sock:
        for n in range(20):
            sock.sendall(get(f"/{n}"))
            assert answers(sock, 1) == [f"/{n}".encode()]


def test_pipelined_requests_are_answered_at_once(server):
    with connect(server, timeout=workers.LINGER * 0.75) as sock:
        sock.sendall(get("/a") + get("/b") + get("/c"))
        assert answers(sock, 3) == [b"/a", b"/b", b"/c"]


def test_another_connection_does_not_wait_for_the_thread_a_quiet_one_holds(server):
    """The one thread waits on the first connection for its next request; a second
    connection must be answered well before that wait would end (LINGER), and the first
    still be answered after."""
    with connect(server) as first:
        first.sendall(get("/first"))
        assert answers(first, 1) == [b"/first"]
        assert_answered_soon(server, "/second")
        first.sendall(get("/first-again"))
        assert answers(first, 1) == [b"/first-again"]


def test_after_a_client_hangs_up_the_next_is_served(server):
    with connect(server) as gone:
        gone.sendall(get("/gone"))
        assert answers(gone, 1) == [b"/gone"]
    assert_answered_soon(server, "/next")


def assert_answered_soon(server, path: str) -> None:
    """A request on a new connection is answered before a thread's wait would end."""
    with connect(server, timeout=workers.LINGER * 0.75) as sock:
        sock.sendall(get(path))
        assert answers(sock, 1) == [path.encode()]
