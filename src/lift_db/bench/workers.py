"""Run N worker threads in lockstep and time them as one: the wall time from the moment all are
ready to the moment the last finishes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from lift_db.bench.measure import clock

W = TypeVar("W")


def run_workers(work: Callable[[W], None], args: Sequence[W]) -> float:
    """Run `work(arg)` on one thread per arg, started together; return the wall seconds.

    A worker's exception is re-raised here once all threads have stopped.
    """
    barrier = threading.Barrier(len(args) + 1)
    errors: list[BaseException] = []

    def body(arg: W) -> None:
        try:
            barrier.wait()
            work(arg)
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(a,), daemon=True) for a in args]
    for t in threads:
        t.start()
    barrier.wait()
    start = clock()
    for t in threads:
        t.join()
    elapsed = clock() - start
    if errors:
        raise errors[0]
    return elapsed
