"""Real threads for race tests: each runs with its own database connection."""

import threading
import time


def run_together(*calls):
    """Start all calls at the same moment in their own threads; return results or errors."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # the test inspects what each thread got
            results[index] = error
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def wait_for(predicate, seconds: float = 20.0) -> bool:
    """Poll ``predicate`` until it holds (a real worker or thread is doing the work)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
