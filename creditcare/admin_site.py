"""The staff site: Django's admin, where every list answers only the lookups it offers.

Django's admin applies any ``?field__lookup=value`` on a model's own fields, so a list could
be probed a character at a time (``?id_number__startswith=3301…``: a row or none). Here a
list takes from the query string only what its own filters read (and its date drill-down);
anything left over is refused. Searching goes through each admin's ``search_fields``.
"""

from django.contrib import admin
from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop


class StrictChangeList(ChangeList):
    """Django's change list, refusing lookups none of its filters asked for, and a date
    drill-down past the calendar's end (the day after 9999-12-31) as a malformed one."""

    def get_filters(self, request):
        if any("\x00" in value for _name, values in request.GET.lists() for value in values):
            raise DisallowedModelAdminLookup("A NUL in the query string")  # no column holds one
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

    def history_view(self, request, object_id, extra_context=None):
        if not str(object_id).isdigit():  # django-simple-history's pages look it up as given
            raise Http404
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if not (str(object_id).isdigit() and str(version_id).isdigit()):
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)


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


# Words of Django's admin templates and of installed apps that their releases do not
# translate into Chinese; our catalogue does (makemessages finds them here).
TRANSLATED_HERE = [
    gettext_noop("Model name"),  # the admin's app lists, for screen readers
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    gettext_noop("access attempt"),  # django-axes
    gettext_noop("access attempts"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
]
