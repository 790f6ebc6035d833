"""A bounded pool of inference workers: N threads, N Readers, a short waiting line.

`submit` either admits a job at once or raises `PoolFull`; it never queues without
bound.  An admitted job holds its slot until it has really finished, even when the
request that asked for it has timed out, so a slow image cannot let more work in than
the pool can run.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from digitlens.inference import Reader

T = TypeVar("T")


class PoolFull(RuntimeError):
    """Every worker is busy and the waiting line is full."""


class InferencePool:
    def __init__(self, make_reader: Callable[[], Reader], workers: int, queue_size: int):
        self.workers = workers
        self.capacity = workers + queue_size
        self._readers: queue.Queue[Reader] = queue.Queue()
        for _ in range(workers):
            self._readers.put(make_reader())
        self._first = self._readers.queue[0]
        self._slots = threading.BoundedSemaphore(self.capacity)
        self._lock = threading.Lock()
        self._admitted = 0
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="digitlens-read")

    @property
    def reader(self) -> Reader:
        """One of the pool's readers, for questions that need no inference (model, config)."""
        return self._first

    @property
    def in_flight(self) -> int:
        return self._admitted

    def submit(self, job: Callable[[Reader], T]) -> Future[T]:
        """Run job(reader) on a free worker; PoolFull at once when there is no room."""
        if not self._slots.acquire(blocking=False):
            raise PoolFull(f"all {self.workers} workers busy and {self.capacity - self.workers} requests waiting")
        with self._lock:
            self._admitted += 1
        try:
            fut = self._executor.submit(self._run, job)
        except BaseException:
            self._release(None)
            raise
        fut.add_done_callback(self._release)  # also called when a waiting job is cancelled
        return fut

    def _run(self, job: Callable[[Reader], T]) -> T:
        reader = self._readers.get()  # never waits: as many readers as threads
        try:
            return job(reader)
        finally:
            self._readers.put(reader)

    def _release(self, _fut: Future | None) -> None:
        with self._lock:
            self._admitted -= 1
        self._slots.release()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
