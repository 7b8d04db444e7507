"""Writing many rows at once, for the nightly work on a region's patients in chunks."""

from collections.abc import Mapping, Sequence

from django.db import connection, models


def rows_update(objs: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Save ``fields`` of each of ``objs`` (one model) in one ``UPDATE … FROM unnest(…)``.

    What ``QuerySet.bulk_update`` does, without its ``CASE WHEN pk = … THEN …`` per row and
    field: building those expressions costs Python milliseconds per row, a thousand rows a
    second. Here each field is one array parameter, its values as they are (as
    ``rows_insert`` takes them). Like ``bulk_update``, ``save()`` and signals are not called,
    and ``auto_now`` fields are not touched.
    """
    if not objs:
        return 0
    meta, quote = type(objs[0])._meta, connection.ops.quote_name
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    arrays = [[getattr(obj, column.attname) for obj in objs] for column in columns]
    table = quote(meta.db_table)
    sql = (
        f"UPDATE {table} SET "
        + ", ".join(f"{quote(c.column)} = v.{quote(c.column)}" for c in columns[1:])
        + " FROM unnest("
        + ", ".join(f"%s::{c.db_type(connection)}[]" for c in columns)
        + ") AS v("
        + ", ".join(quote(c.column) for c in columns)
        + f") WHERE {table}.{quote(meta.pk.column)} = v.{quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        return cursor.rowcount


def rows_insert(
    model: type[models.Model],
    columns: Mapping[str, object],
    *,
    count: int,
    skip_conflicts_on: str | None = None,
) -> list:
    """Insert ``count`` rows of ``model`` in one ``INSERT … SELECT … FROM unnest(…)``; their
    primary keys, in order. With ``skip_conflicts_on`` (a unique field), a row whose value is
    in the table already, or earlier in the same rows, is skipped (``ON CONFLICT … DO
    NOTHING``) and the keys are those of the rows written, which ``bulk_create`` does not give.

    Each column (by field name or attname) is a list of ``count`` values, or one value for
    every row; the other columns take their field's default (a time that ``auto_now_add``
    would set must be given). Values go to the database as they are (ids, text, Decimal,
    datetimes, None): no model instances, no ``save()``, no signals.
    ``bulk_create`` makes the same statement, after building an instance and converting each
    value of each row in Python, which is what a chunk of a thousand people would wait on.
    """
    if not count:
        return []
    meta, quote = model._meta, connection.ops.quote_name
    given = {meta.get_field(name): value for name, value in columns.items()}
    for field in meta.concrete_fields:
        if field not in given and not field.primary_key:
            given[field] = field.get_default()
    fields = list(given)
    arrays = [
        list(value) if isinstance(value, list) else [value] * count for value in given.values()
    ]
    if any(len(array) != count for array in arrays):
        raise ValueError("every column needs one value per row")
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        "SELECT * FROM unnest("
        + ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
        + ")"
        + (
            f" ON CONFLICT ({quote(meta.get_field(skip_conflicts_on).column)}) DO NOTHING"
            if skip_conflicts_on
            else ""
        )
        + f" RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        return [pk for (pk,) in cursor.fetchall()]
