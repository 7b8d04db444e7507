import ipaddress

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The visitor's address as the server saw it (a proxy must pass the real one on)."""
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")))
    except ValueError:  # a unix socket, or nothing
        return None
