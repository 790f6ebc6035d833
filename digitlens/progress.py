"""A dependency-free progress bar (count, rate, ETA) for training and batch runs."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Redraws one line on a terminal; prints nothing but the final line elsewhere."""

    def __init__(self, total: int | None, desc: str = "", stream: TextIO | None = None, min_interval: float = 0.2):
        self.total = total
        self.desc = desc
        self.stream = stream if stream is not None else sys.stderr
        self.count = 0
        self.start = time.perf_counter()
        self.postfix = ""
        self._last = 0.0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.min_interval = min_interval

    def update(self, n: int = 1, postfix: str | None = None) -> None:
        self.count += n
        if postfix is not None:
            self.postfix = postfix
        now = time.perf_counter()
        if self._tty and now - self._last >= self.min_interval:
            self._last = now
            self.stream.write("\r" + self.line() + "\033[K")
            self.stream.flush()

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        if self.total:
            frac = min(1.0, self.count / self.total)
            bar = "#" * int(frac * 24)
            eta = (self.total - self.count) / rate if rate > 0 else 0.0
            head = f"{self.desc} [{bar:<24}] {self.count}/{self.total} {rate:.1f}/s eta {eta:.0f}s"
        else:
            head = f"{self.desc} {self.count} {rate:.1f}/s"
        return f"{head} {self.postfix}".rstrip()

    def close(self) -> None:
        end = "\r" + self.line() + "\033[K\n" if self._tty else self.line() + "\n"
        self.stream.write(end)
        self.stream.flush()
