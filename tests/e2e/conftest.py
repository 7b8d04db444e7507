import pytest


@pytest.fixture
def server():
    """A live server for this test only: stopped (and its connections closed) at the end."""
    from pytest_django.live_server_helper import LiveServer

    live = LiveServer("localhost:0")
    yield live
    live.stop()
