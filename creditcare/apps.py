"""Configurations of installed apps, where ours differ from theirs."""

from axes.apps import AppConfig as AxesAppConfig
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.apps import DefaultConfig as TotpAppConfig


class StaffAdminConfig(AdminConfig):
    """Django's admin with our site as ``admin.site``: every list answers only its own
    lookups (``creditcare.admin_site``), and the staff sign-in asks for a code from an
    authenticator app where one is set up or required (``accounts.two_factor``)."""

    default_site = "accounts.admin_site.StaffAdminSite"


class LockoutsConfig(AxesAppConfig):
    """django-axes, named in the staff's words."""

    verbose_name = _("Staff sign-in lockouts")


class AuthenticatorAppsConfig(TotpAppConfig):
    """django-otp's TOTP devices: the staff's authenticator apps."""

    verbose_name = _("Authenticator apps")
