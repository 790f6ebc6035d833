"""Progress bars for training and batch runs: tqdm on a terminal, quiet elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm


class Progress:
    """A tqdm bar drawn only when the stream is a terminal.

    Elsewhere (a log file, a pipe) nothing is drawn; with `final_line=True` close()
    writes one summary line, so a training log keeps one line per epoch.
    """

    def __init__(
        self,
        total: int | None,
        desc: str = "",
        stream: TextIO | None = None,
        final_line: bool = True,
        **_ignored: object,
    ) -> None:
        self.total = total
        self.desc = desc
        self.stream = stream if stream is not None else sys.stderr
        self.count = 0
        self.postfix = ""
        self.final_line = final_line
        self.start = time.perf_counter()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.bar = tqdm(total=total, desc=desc, file=self.stream, disable=not self.tty, dynamic_ncols=True, leave=True)

    def update(self, n: int = 1, postfix: str | None = None) -> None:
        self.count += n
        if postfix is not None:
            self.postfix = postfix
            self.bar.set_postfix_str(postfix, refresh=False)
        self.bar.update(n)

    def note(self, text: str) -> None:
        """A line above the bar (or just the line, off a terminal)."""
        if self.tty:
            self.bar.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        total = f"/{self.total}" if self.total else ""
        return f"{self.desc} {self.count}{total} {rate:.1f}/s {elapsed:.1f}s {self.postfix}".strip()

    def close(self) -> None:
        self.bar.set_postfix_str(self.postfix, refresh=False)
        self.bar.close()
        if not self.tty and self.final_line:
            self.stream.write(self.line() + "\n")
            self.stream.flush()
