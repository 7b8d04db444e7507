from django.urls import path

from billing.payments.pages import signup as signup_views

app_name = "signup"
urlpatterns = [
    path("", signup_views.start, name="start"),
    path("code/", signup_views.send_code, name="code"),
    path("verify/", signup_views.verify_code, name="verify"),
    path("details/", signup_views.details, name="details"),
    path("agreement/", signup_views.agreement, name="agreement"),
]
