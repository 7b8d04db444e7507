"""Writing many rows at once, for the nightly work on a region's patients in chunks."""

from collections.abc import Mapping, Sequence

from django.db import connection, models


def rows_update(objs: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Save ``fields`` of each of ``objs`` (one model) in one ``UPDATE … FROM unnest(…)``.

    What ``QuerySet.bulk_update`` does, without its ``CASE WHEN pk = … THEN …`` per row and
    field: building those expressions costs Python milliseconds per row, a thousand rows a
    second. Like ``bulk_update``, ``save()`` and signals are not called, and ``auto_now``
    fields are not touched.
    """
    if not objs:
        return 0
    model = type(objs[0])
    names = ["pk", *(model._meta.get_field(name).attname for name in fields)]
    return columns_update(
        model, {name: [getattr(obj, name) for obj in objs] for name in names}, count=len(objs)
    )


def columns_update(model: type[models.Model], columns: Mapping[str, object], *, count: int) -> int:
    """``rows_update`` from columns, for rows the caller has no instances of: ``columns`` has
    ``"pk"`` (a list of ``count`` keys) and, for each field to set (by name or attname), a
    list of ``count`` values or one value for every row. Each is one array parameter, its
    values as they are (as ``rows_insert`` takes them). How many rows were updated."""
    if not count:
        return 0
    meta, quote = model._meta, connection.ops.quote_name
    given = {
        meta.pk if name == "pk" else meta.get_field(name): value for name, value in columns.items()
    }
    if meta.pk not in given:
        raise ValueError('columns_update needs the rows\' keys, as "pk"')
    fields = [meta.pk, *(f for f in given if f is not meta.pk)]
    arrays = [_column(given[field], count) for field in fields]
    table = quote(meta.db_table)
    sql = (
        f"UPDATE {table} SET "
        + ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields[1:])
        + " FROM unnest("
        + ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
        + ") AS v("
        + ", ".join(quote(f.column) for f in fields)
        + f") WHERE {table}.{quote(meta.pk.column)} = v.{quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        return cursor.rowcount


def _column(value: object, count: int) -> list:
    """A column's values: the list given, or one value repeated for every row."""
    column = list(value) if isinstance(value, list) else [value] * count
    if len(column) != count:
        raise ValueError("every column needs one value per row")
    return column


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
    arrays = [_column(value, count) for value in given.values()]
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
