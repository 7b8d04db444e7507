"""Working through many rows: in batches, with a progress bar for commands run by hand."""

import sys
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TextIO, TypeVar

T = TypeVar("T")

Progress = Callable[[int, int], None]  # (done, total): how far a long job is


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``itertools.batched`` of Python 3.12, as lists."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class ProgressBar:
    """``bar(done, total)`` redraws one line on a terminal; it stays silent elsewhere (logs,
    cron) and for short runs, where a summary line says enough."""

    def __init__(self, label: str, stream: TextIO = sys.stderr, min_total: int = 200):
        self.label, self.stream, self.min_total = label, stream, min_total
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if total < self.min_total or not self.stream.isatty():
            return
        width = 30
        filled = width * done // total
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
