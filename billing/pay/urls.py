from django.urls import path

from billing.pay import views

app_name = "pay"
urlpatterns = [
    path("<str:token>", views.link_page, name="link"),
    path("<str:token>/code/", views.send_code, name="code"),
    path("<str:token>/verify/", views.verify_code, name="verify"),
    path("<str:token>/bill/", views.bill_page, name="bill"),
]
