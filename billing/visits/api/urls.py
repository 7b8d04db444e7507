from csp.constants import NONE, SELF
from csp.decorators import csp
from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from billing.visits.api import views


class IdConverter:
    """Object ids: digits that fit a 64-bit key (longer ones would be a database error)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class HisIdConverter:
    """A HIS line id in a URL: no slash, no NUL (which no database column can hold)."""

    regex = "[^/\x00]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI, its script in a second request (``?script``): no inline script."""

    http_method_names = ["get", "head"]  # the page has no OPTIONS description to render
    template_name = "api/docs.html"


# The docs page's own Content-Security-Policy, the same in the site's process and the API's
# (whose policy allows nothing): Swagger UI's files from the sidecar on our origin, its icons
# as data: images.
DOCS_POLICY = {
    "default-src": [SELF],
    "img-src": [SELF, "data:"],
    "object-src": [NONE],
    "base-uri": [NONE],
    "form-action": [SELF],
    "frame-ancestors": [NONE],
}


register_converter(IdConverter, "id")
register_converter(HisIdConverter, "his_id")

app_name = "api"
urlpatterns = [
    path("eligibility/", views.EligibilityView.as_view(), name="eligibility"),
    path("visits/", views.VisitListView.as_view(), name="visits"),
    path("visits/<id:visit_id>/", views.VisitDetailView.as_view(), name="visit"),
    path("visits/<id:visit_id>/charges/", views.ChargesView.as_view(), name="charges"),
    path(
        "visits/<id:visit_id>/charges/<his_id:his_line_id>/void/",
        views.ChargeVoidView.as_view(),
        name="charge-void",
    ),
    path("visits/<id:visit_id>/interim/", views.VisitInterimView.as_view(), name="visit-interim"),
    path("visits/<id:visit_id>/close/", views.VisitCloseView.as_view(), name="visit-close"),
    path("bills/", views.BillListView.as_view(), name="bills"),
    path("visit-counts/", views.VisitCountsView.as_view(), name="visit-counts"),
    path("bills/<id:bill_id>/", views.BillDetailView.as_view(), name="bill"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", csp(DOCS_POLICY)(DocsView.as_view(url_name="api:schema")), name="docs"),
]
