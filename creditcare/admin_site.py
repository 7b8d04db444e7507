"""The staff site: Django's admin, where every list answers only the lookups it offers.

Django's admin applies any ``?field__lookup=value`` on a model's own fields, so a list could
be probed a character at a time (``?id_number__startswith=3301…``: a row or none). Here a
list takes from the query string only what its own filters read (and its date drill-down);
anything left over is refused. Searching goes through each admin's ``search_fields``.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.utils.translation import gettext_lazy as _


class StrictChangeList(ChangeList):
    """Django's change list, refusing lookups none of its filters asked for, and a date
    drill-down past the calendar's end (the day after 9999-12-31) as a malformed one."""

    def get_filters(self, request):
        try:
            filters = super().get_filters(request)
        except (OverflowError, ValueError) as error:
            raise IncorrectLookupParameters(error) from error
        left_over = set(filters[2]) - self._date_lookups()
        if left_over:
            raise DisallowedModelAdminLookup(f"Filtering by {sorted(left_over)} not allowed")
        return filters

    def _date_lookups(self) -> set[str]:
        """What the date drill-down turns its year/month/day into."""
        if not self.date_hierarchy:
            return set()
        return {f"{self.date_hierarchy}__gte", f"{self.date_hierarchy}__lt"}


class StrictLookupsMixin:
    def get_changelist(self, request, **kwargs):
        return StrictChangeList


class CreditCareAdminSite(admin.AdminSite):
    site_header = _("CreditCare: treat first, pay later")
    site_title = _("CreditCare")
    index_title = _("Staff desk")

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every admin, ours or an installed app's, gets the strict change list."""
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, StrictLookupsMixin):
            admin_class = type(admin_class.__name__, (StrictLookupsMixin, admin_class), {})
        super().register(model_or_iterable, admin_class, **options)


class CreditCareAdminConfig(AdminConfig):
    default_site = "creditcare.admin_site.CreditCareAdminSite"
