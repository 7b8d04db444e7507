"""The URLs of the HIS API's own process (creditcare/settings_api.py)."""

from django.urls import include, path

from billing.visits.api.errors import api_bad_request, api_not_found, api_server_error
from creditcare.urls import health

urlpatterns = [
    path("api/v1/", include("billing.visits.api.urls")),
    path("healthz", health, name="health"),
]

handler400 = api_bad_request
handler404 = api_not_found
handler500 = api_server_error
