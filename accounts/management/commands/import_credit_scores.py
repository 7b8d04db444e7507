import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import CreditScore
from accounts.scoring.base import ScoreProviderError, checked_score


class Command(BaseCommand):
    help = "Import credit scores from a CSV file with columns citizen_card,score (header row)."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)

    def handle(self, *args, path: Path, **options):
        if not path.exists():
            raise CommandError(f"{path}: no such file")
        rows = []
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"citizen_card", "score"} - set(reader.fieldnames or [])
            if missing:
                raise CommandError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            for line_number, row in enumerate(reader, start=2):
                card = (row["citizen_card"] or "").strip().upper()
                try:
                    score = checked_score(int(row["score"]))
                except (TypeError, ValueError, ScoreProviderError):
                    raise CommandError(
                        f"{path}, line {line_number}: score {row['score']!r} is not 350-950"
                    ) from None
                if not card:
                    raise CommandError(f"{path}, line {line_number}: empty citizen_card")
                rows.append(CreditScore(citizen_card=card, score=score, source="csv"))
        with transaction.atomic():  # a bad line imports nothing
            CreditScore.objects.bulk_create(rows, batch_size=1000)
        self.stdout.write(f"imported {len(rows)} score(s) from {path}")
