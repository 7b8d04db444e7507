class NoScoreProvider:
    """The default: no external score, the policy works from the repayment record alone."""

    name = "none"

    def fetch(self, patient) -> int | None:
        return None
