from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views import defaults
from django.views.generic import RedirectView

from billing.visits.api.errors import api_bad_request, api_not_found, api_server_error
from notifications.views import twilio_status

API_PREFIX = "/api/"


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("api/v1/", include("billing.visits.api.urls")),  # first: most requests are the HIS's
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("", include("billing.payments.pages.urls")),
    path("signup/", include("billing.payments.pages.signup_urls")),
    path("sms/twilio/status/", twilio_status, name="twilio-status"),
    path("healthz", health, name="health"),
]


def handler400(request, exception):
    if request.path.startswith(API_PREFIX):
        return api_bad_request(request, exception)
    return defaults.bad_request(request, exception)


def handler404(request, exception):
    if request.path.startswith(API_PREFIX):
        return api_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def handler500(request):
    if request.path.startswith(API_PREFIX):
        return api_server_error(request)
    return defaults.server_error(request)
