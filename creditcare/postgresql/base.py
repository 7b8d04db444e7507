"""Django's PostgreSQL backend, with a health check that costs no round trip.

``settings.DATABASES`` names it (``ENGINE = "creditcare.postgresql"``) for every
``postgres://`` URL.
"""

import select

import psycopg2
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        """Whether a persistent connection may serve another request (CONN_HEALTH_CHECKS).

        Django's check is a ``SELECT 1``: one more round trip on every request, which on the
        HIS API's charges cost a sixth of the throughput. A connection the server closed (a
        restart, a failover, an idle timeout) has its socket readable at end of file, and a
        live idle one has nothing to read; so poll the socket, and only when something is
        there (that, or a notice) ask the server as Django does.
        """
        try:
            poll = select.poll()  # not select.select, which fails on descriptors >= 1024
            poll.register(self.connection.fileno(), select.POLLIN)
            readable = poll.poll(0)
        except (OSError, ValueError, AttributeError, psycopg2.InterfaceError):
            return False  # no connection, or closed on our side
        return not readable or super().is_usable()
