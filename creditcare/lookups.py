"""Lookups of our own, registered on every field by ``accounts.apps``."""

from django.core.exceptions import EmptyResultSet
from django.db.models import Lookup


class InArray(Lookup):
    """``field__in_array=values``: what ``field__in=values`` finds, as
    ``field = ANY(%s)`` with the values sent as one array parameter.

    For the nightly work on chunks of thousands of patients: ``__in`` prepares each value in
    Python and gives each its own placeholder, which a chunk pays in milliseconds a query.
    Values go to the database as they are (ids, text), as ``creditcare.bulk`` takes them.
    """

    lookup_name = "in_array"
    prepare_rhs = False  # the list as it is, not each value through the field

    def as_sql(self, compiler, connection):
        values = list(self.rhs)
        if not values:
            raise EmptyResultSet  # as ``__in`` does: nothing matches, no query is sent
        lhs, lhs_params = self.process_lhs(compiler, connection)
        # Typed as the field: PostgreSQL compares an array of its own type by hashing.
        array = f"%s::{self.lhs.output_field.db_type(connection)}[]"
        return f"{lhs} = ANY({array})", (*lhs_params, values)
