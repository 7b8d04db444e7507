"""The admin site (``admin.site``, through ``creditcare.apps.StaffAdminConfig``): the strict
site of ``creditcare.admin_site``, with the staff two-factor sign-in of
``accounts.two_factor``."""

from collections.abc import Callable
from functools import update_wrapper

from django.contrib import auth, messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from accounts import admin_views, two_factor
from accounts.forms import StaffSignInForm
from accounts.two_factor import SessionState
from creditcare.admin_site import CreditCareAdminSite


class StaffAdminSite(CreditCareAdminSite):
    login_form = StaffSignInForm
    login_template = "admin/staff_login.html"

    def get_urls(self):
        return [
            path("two-factor/", self.admin_view(self.two_factor_view), name="two_factor"),
            *super().get_urls(),
        ]

    def two_factor_view(self, request: HttpRequest) -> HttpResponse:
        return admin_views.two_factor_view(request, self)

    def admin_view(self, view: Callable, cacheable: bool = False) -> Callable:
        """Every admin page: Django's check (signed-in staff), then the two-factor rule. A
        session that owes a code signs in again; a required role with no authenticator may
        only set one up, or sign out."""

        def gated(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            state = two_factor.session_state(request)
            if state is SessionState.SIGN_IN_AGAIN:
                auth.logout(request)
                messages.info(request, _("Sign in again, with the code of your authenticator app."))
                return redirect_to_login(
                    request.get_full_path(), reverse("admin:login", current_app=self.name)
                )
            if state is SessionState.MUST_ENROL and view not in (
                self.two_factor_view,
                self.logout,
            ):
                return redirect(reverse("admin:two_factor", current_app=self.name))
            return view(request, *args, **kwargs)

        return super().admin_view(update_wrapper(gated, view), cacheable)
