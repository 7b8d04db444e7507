from django.urls import path, register_converter
from django.views.decorators.cache import never_cache

from billing.payments.pages import me, views


class ReferenceConverter:
    """A link's token or our order number in a URL: letters, digits, '-' and '_'. Anything
    else (a NUL, which no database column can hold) is no page of ours: 404."""

    regex = "[A-Za-z0-9_-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ReferenceConverter, "ref")

app_name = "pay"
# Patients' pages are never cached (a shared phone, a proxy): Cache-Control: no-store.
urlpatterns = [
    path("p/<ref:token>", never_cache(views.link_page), name="link"),
    path("p/<ref:token>/code/", never_cache(views.send_code), name="code"),
    path("p/<ref:token>/verify/", never_cache(views.verify_code), name="verify"),
    path("p/<ref:token>/check/", never_cache(views.check_page), name="check"),
    path("p/<ref:token>/bill/", never_cache(views.bill_page), name="bill"),
    path("p/<ref:token>/pay/", never_cache(views.pay), name="pay"),
    path("p/<ref:token>/receipt/", never_cache(views.receipt_page), name="receipt"),
    path(
        "p/<ref:token>/einvoice/<uuid:einvoice_id>/",
        never_cache(views.einvoice_download),
        name="einvoice",
    ),
    path("me/", never_cache(me.me_page), name="me"),
    path("me/code/", never_cache(me.me_send_code), name="me-code"),
    path("me/verify/", never_cache(me.me_verify), name="me-verify"),
    path("me/sign-out/", never_cache(me.me_sign_out), name="me-sign-out"),
    path("me/family/", never_cache(me.me_family_add), name="me-family-add"),
    path("me/family/confirm/", never_cache(me.me_family_confirm), name="me-family-confirm"),
    path(
        "me/family/<int:payer_id>/remove/",
        never_cache(me.me_family_remove),
        name="me-family-remove",
    ),
    path("pay/sandbox/<ref:out_trade_no>/", never_cache(views.sandbox_checkout), name="sandbox"),
    path("pay/notify/<str:channel>/", views.notify, name="notify"),
]
