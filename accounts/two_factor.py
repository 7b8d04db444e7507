"""Staff two-factor sign-in: a code from an authenticator app (TOTP, django-otp) besides the
password, for the admin.

* Any staff member may set up an authenticator app for themselves on the admin's *Two-factor
  sign-in* page (a QR code and the secret, confirmed with a first code). From then on the
  sign-in page asks for the app's current code as well as the password.
* Members of the roles in ``settings.OTP_REQUIRED_ROLES`` must have one: signed in with a
  password alone, they can only set it up, or sign out, until they have.
* A session signed in without a code by someone who has an authenticator now (set up in
  another browser, or by an administrator) is signed out, to sign in again with a code.
* A wrong code counts as a failed sign-in for django-axes' lockout, and an authenticator
  refuses codes for a doubling while after each wrong one (django-otp's throttling).

One authenticator per person: a new one (a new phone) replaces the old one once its first
code is confirmed. An administrator deletes a lost one under *TOTP devices*. The admin site
(``accounts.admin_site``) applies all of this; the writes are in ``accounts.services``.
"""

import base64
import enum

import segno
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from accounts.models import User

# The secret offered for a new authenticator waits in the session until a code confirms it:
# the QR code stays the same across reloads, and no device exists before it works.
CANDIDATE_SESSION_KEY = "two_factor_candidate_key"


class SessionState(enum.Enum):
    SIGNED_IN = "signed_in"  # nothing more to ask
    MUST_ENROL = "must_enrol"  # a required role without an authenticator: set one up first
    SIGN_IN_AGAIN = "sign_in_again"  # has an authenticator, but this session never gave a code


def required_for(user: User) -> bool:
    roles = settings.OTP_REQUIRED_ROLES
    return bool(roles) and user.groups.filter(name__in=roles).exists()


def authenticator_of(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user).order_by("pk").first()


def session_state(request: HttpRequest) -> SessionState:
    """What the signed-in staff member of ``request`` still owes before using the admin
    (``request.user.is_verified()`` is django-otp's middleware: signed in with a code)."""
    user = request.user
    if not (user.is_active and user.is_staff) or user.is_verified():
        return SessionState.SIGNED_IN
    if authenticator_of(user) is not None:
        return SessionState.SIGN_IN_AGAIN
    if required_for(user):
        return SessionState.MUST_ENROL
    return SessionState.SIGNED_IN


def candidate_key(session: SessionBase) -> str:
    """The hex secret offered to this session for a new authenticator."""
    if not session.get(CANDIDATE_SESSION_KEY):
        session[CANDIDATE_SESSION_KEY] = random_hex(20)
    return session[CANDIDATE_SESSION_KEY]


def candidate_forget(session: SessionBase) -> None:
    session.pop(CANDIDATE_SESSION_KEY, None)


def provisioning_url(user: User, key: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return TOTPDevice(user=user, key=key).config_url


def secret_for_typing(key: str) -> str:
    """The secret in base32, in groups of four, for an app that cannot scan."""
    text = base64.b32encode(bytes.fromhex(key)).decode().rstrip("=")
    return " ".join(text[start : start + 4] for start in range(0, len(text), 4))


def qr_code_svg(url: str) -> SafeString:
    """The QR code as inline SVG markup (no image request, nothing inline for the CSP)."""
    return mark_safe(segno.make(url, error="m").svg_inline(scale=5, border=4, light="#fff"))
