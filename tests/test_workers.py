"""The production gunicorn worker (``creditcare.workers``), run by gunicorn itself on a
listening socket of the test's, serving a small WSGI application: one thread, so any
connection waiting for a thread would show."""

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from creditcare import workers


def app(environ, start_response):
    body = environ["PATH_INFO"].encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    listener = socket.create_server(("127.0.0.1", 0))
    command = [sys.executable, "-m", "gunicorn", "--bind", f"fd://{listener.fileno()}"]
    command += ["--worker-class", "creditcare.workers.KeepAliveThreadWorker"]
    command += ["--workers", "1", "--threads", "1", "--keep-alive", "30", "tests.test_workers:app"]
    process = subprocess.Popen(command, pass_fds=[listener.fileno()], stderr=subprocess.DEVNULL)
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


def test_a_client_that_hangs_up_frees_the_thread(server):
    with connect(server) as gone:
        gone.sendall(get("/gone"))
        assert answers(gone, 1) == [b"/gone"]
    assert_answered_soon(server, "/next")


def assert_answered_soon(server, path: str) -> None:
    """A request on a new connection is answered before a thread's wait would end."""
    with connect(server, timeout=workers.LINGER * 0.75) as sock:
        sock.sendall(get(path))
        assert answers(sock, 1) == [path.encode()]
