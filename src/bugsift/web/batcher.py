"""Micro-batching: the reports of concurrent suggest requests go through one ``predict`` call together.

A model's cost per call is mostly fixed (input checks, feature set-up, explanations per call); a batch
of 16 reports costs about twice one report. Under load the waiting requests form the next batch by
themselves, without a timer: one thread per model takes whatever is queued (up to ``max_batch``), while
the request threads wait for their own answer. Alone, a request waits only for its own prediction.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from bugsift.sources.base import Report

PredictFn = Callable[[Sequence[Report], int], list[dict[str, Any]]]
Item = tuple[Report, int, "Future[dict[str, Any]]"]
IDLE_EXIT_S = 60.0
"""An idle batcher's thread ends after this long (a replaced model's batcher does not linger)."""


class MicroBatcher:
    """Answers one report at a time to its callers, predicting the reports of concurrent callers at once."""

    def __init__(self, predict: PredictFn, max_batch: int = 32, name: str = "predict") -> None:
        self._predict = predict
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None
        self._name = name
        self.batches = 0
        self.reports = 0

    def submit(self, report: Report, top_k: int) -> Future[dict[str, Any]]:
        """Queue one report; the future holds its result (or the error predicting it raised)."""
        future: Future[dict[str, Any]] = Future()
        self._queue.put((report, top_k, future))
        self._ensure_thread()
        return future

    def predict(self, report: Report, top_k: int, timeout: float = 60.0) -> dict[str, Any]:
        return self.submit(report, top_k).result(timeout)

    def _ensure_thread(self) -> None:
        with self._start:  # always under the lock: the thread may be ending after an idle minute
            if self._thread is None:
                thread = threading.Thread(target=self._run, name=f"batch-{self._name}", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE_EXIT_S)
            except queue.Empty:
                with self._start:  # a report put after this check finds no thread and starts one
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            items = [first]
            while len(items) < self.max_batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            by_k: dict[int, list[Item]] = {}
            for item in items:
                by_k.setdefault(item[1], []).append(item)
            for top_k, group in by_k.items():
                try:
                    self._answer(group, top_k)
                except Exception as error:  # never leave a caller waiting, never let the thread die
                    for _, _, future in group:
                        if not future.done():
                            future.set_exception(error)

    def _answer(self, group: list[Item], top_k: int) -> None:
        try:
            results = self._predict([report for report, _, _ in group], top_k)
        except Exception as error:
            if len(group) == 1:
                group[0][2].set_exception(error)
                return
            for item in group:  # one bad report must not fail the others: answer them one by one
                self._answer([item], top_k)
            return
        if len(results) != len(group):
            raise RuntimeError(f"{self._name}: {len(results)} answers for {len(group)} reports")
        self.batches += 1
        self.reports += len(group)
        for (_, _, future), result in zip(group, results, strict=True):
            future.set_result(result)
