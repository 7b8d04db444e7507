class CsvScoreProvider:
    """Scores imported from a CSV file (``manage.py import_credit_scores``): the latest wins."""

    name = "csv"

    def fetch(self, patient) -> int | None:
        from accounts.selectors import credit_score_latest

        score = credit_score_latest(citizen_card=patient.citizen_card, source=self.name)
        return score.score if score else None
