"""Configurations of installed apps, where ours differ from theirs."""

from axes.apps import AppConfig as AxesAppConfig
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _


class CreditCareAdminConfig(AdminConfig):
    """django.contrib.admin on our site (strict lookups; see ``creditcare.admin_site``)."""

    default_site = "creditcare.admin_site.CreditCareAdminSite"


class LockoutsConfig(AxesAppConfig):
    """django-axes, named in the staff's words."""

    verbose_name = _("Staff sign-in lockouts")
