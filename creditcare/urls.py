from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.generic import RedirectView


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("healthz", health, name="health"),
]
