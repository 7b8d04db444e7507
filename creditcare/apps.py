from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """Django's admin with our site as ``admin.site``: the staff sign-in asks for a code from
    an authenticator app where one is set up or required (accounts/two_factor.py)."""

    default_site = "accounts.admin_site.StaffAdminSite"
