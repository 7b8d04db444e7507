from django.urls import path

from billing.payments.pages import me, views

app_name = "pay"
urlpatterns = [
    path("p/<str:token>", views.link_page, name="link"),
    path("p/<str:token>/code/", views.send_code, name="code"),
    path("p/<str:token>/verify/", views.verify_code, name="verify"),
    path("p/<str:token>/bill/", views.bill_page, name="bill"),
    path("p/<str:token>/pay/", views.pay, name="pay"),
    path("p/<str:token>/receipt/", views.receipt_page, name="receipt"),
    path("me/", me.me_page, name="me"),
    path("me/code/", me.me_send_code, name="me-code"),
    path("me/verify/", me.me_verify, name="me-verify"),
    path("me/sign-out/", me.me_sign_out, name="me-sign-out"),
    path("pay/sandbox/<str:out_trade_no>/", views.sandbox_checkout, name="sandbox"),
    path("pay/notify/<str:channel>/", views.notify, name="notify"),
]
