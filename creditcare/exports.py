"""Figures downloaded by staff: one CSV helper for every list and report."""

import csv
from collections.abc import Iterable

from django.http import HttpResponse


def csv_download(filename: str, rows: Iterable[Iterable]) -> HttpResponse:
    """``rows`` (the first the header) as a CSV file download, UTF-8 with a BOM so that
    Excel opens Chinese text correctly; ``None`` is an empty cell."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")
    csv.writer(response).writerows(["" if cell is None else cell for cell in row] for row in rows)
    return response
