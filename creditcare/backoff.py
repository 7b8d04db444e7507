import datetime as dt


def retry_delay(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failure to reach another system (a hospital's
    webhook endpoint, the e-invoice platform): 1 min, 4, 16, 64, about 4 h, then every 12 h."""
    return dt.timedelta(seconds=min(60 * 4 ** (attempts - 1), 12 * 3600))
