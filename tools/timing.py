"""Timing on a noisy shared machine: warm up first, then take the median of several repeats."""

from __future__ import annotations

import statistics
import time


def median_seconds(work, repeats: int, warmup: int = 1) -> float:
    """Median wall time of `work()` over `repeats` calls, after `warmup` untimed calls (tracing,
    caches). `work` must wait for its own result, or the time measures only the dispatch."""
    for _ in range(warmup):
        work()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)
