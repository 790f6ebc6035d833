"""`digitlens batch SOURCE --out results.jsonl`: every photo of a folder, glob or list.

Built to be interrupted: each result is written and flushed as its image finishes, so a
Ctrl-C, a crash or a power cut loses nothing already done, and `--resume` skips what the
output already holds.  Worker processes each own one onnxruntime session on one thread.
Exit status: 0 every input read, 1 some inputs failed (all others are in the output),
2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from digitlens.commands.common import add_reader_arguments, annotate, build_reader, safe_stem, write_image
from digitlens.progress import Progress
from digitlens.sources import image_inputs

if TYPE_CHECKING:
    import numpy as np

    from digitlens.inference.reader import Reader

CSV_FIELDS = ["file", "text", "digits", "confidences", "error"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="a folder, a glob pattern (quote it), or a .txt file listing image paths")
    p.add_argument(
        "--out",
        required=True,
        help="results file: .jsonl (one JSON object per line) or .csv (--engine ray: also .parquet)",
    )
    p.add_argument("--recursive", action="store_true", help="descend into sub-folders (default: off)")
    p.add_argument(
        "--resume", action="store_true", help="skip inputs already in --out and append (default: start afresh)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help=f"worker processes (default: {os.cpu_count() or 1}, the number of cores)",
    )
    p.add_argument(
        "--save-annotated", metavar="DIR", default=None, help="also write annotated images into DIR (default: none)"
    )
    add_reader_arguments(p)
    eng = p.add_argument_group("engine (digitlens/engines/ray_engine.py)")
    eng.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: a pool of processes on this machine; ray: a Ray cluster, needs digitlens[ray] (default: local)",
    )
    eng.add_argument("--address", default=None, help="--engine ray: Ray cluster address (default: start a local Ray)")
    eng.add_argument(
        "--concurrency", type=int, default=None, help="--engine ray: reader actors (default: the cluster's CPUs)"
    )
    eng.add_argument("--batch-size", type=int, default=8, help="--engine ray: images per actor call (default: 8)")


# ---- worker side ------------------------------------------------------------------------
_reader = None
_save_dir = None
_root = None


def _init_worker(args: argparse.Namespace, save_dir: str | None, root: str | None) -> None:
    global _reader, _save_dir, _root
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides how to stop
    _reader = build_reader(args, threads=1)
    _save_dir, _root = save_dir, root


def process_one(path: str) -> dict:
    """One input -> one result row; never raises (errors become the row's `error`)."""
    return read_row(_reader, path, save_dir=_save_dir, root=_root)


def read_row(
    reader: Reader,
    path: str,
    load: Callable[[str], np.ndarray] | None = None,
    save_dir: str | None = None,
    root: str | None = None,
) -> dict:
    """`path` -> one result row with `reader`; `load(path)` gives the image (default: load_image).

    Never raises: an unreadable input becomes the row's one-line `error`.  Shared with the
    Ray engine (digitlens/engines/ray_engine.py), so both engines write the same rows.
    """
    from digitlens.preprocess.load import ImageLoadError, load_image

    row = {"file": path, "text": "", "digits": [], "rejected": [], "error": None}
    try:
        image = (load or load_image)(path)
        reading = reader.read(image)
        row.update(reading.to_dict())
        if save_dir:
            write_image(Path(save_dir) / f"{safe_stem(path, root)}.annotated.png", annotate(image, reading))
    except (ImageLoadError, ValueError, OSError, MemoryError) as exc:
        row["error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return row


# ---- writer side ------------------------------------------------------------------------
class ResultWriter:
    """Appends rows to JSONL or CSV and flushes each one, so nothing done is lost."""

    def __init__(self, path: Path, resume: bool):
        self.path = path
        self.csv = path.suffix.lower() == ".csv"
        self.done: set[str] = set()
        if resume and path.exists():
            self.done = self._read_done()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(path, "a" if resume else "w", encoding="utf-8", newline="")
        if self.csv and self.f.tell() == 0:
            self._write_csv_row(dict(zip(CSV_FIELDS, CSV_FIELDS)))

    def _read_done(self) -> set[str]:
        """Inputs already recorded; a torn last line (killed mid-write) is cut off first."""
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            with open(self.path, "r+b") as f:
                f.truncate(cut)
            data = data[:cut]
        text = data.decode("utf-8", errors="replace")
        done = set()
        if self.csv:
            for row in csv.DictReader(io.StringIO(text)):
                if row.get("file"):
                    done.add(row["file"])
        else:
            for line in text.splitlines():
                try:
                    done.add(json.loads(line)["file"])
                except (ValueError, KeyError, TypeError):
                    continue
        return done

    def _write_csv_row(self, row: dict) -> None:
        buf = io.StringIO()
        csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n").writerow(row)
        self._write(buf.getvalue())

    def _write(self, text: str) -> None:
        try:
            self.f.write(text)
            self.f.flush()
        except OSError as exc:
            raise OSError(f"cannot write results to {self.path}: {exc.strerror or exc}") from None

    def write(self, row: dict) -> None:
        if self.csv:
            self._write_csv_row(
                {
                    "file": row["file"],
                    "text": row["text"],
                    "digits": " ".join(str(d["label"]) for d in row["digits"]),
                    "confidences": " ".join(f"{d['confidence']:.3f}" for d in row["digits"]),
                    "error": row["error"] or "",
                }
            )
        else:
            self._write(json.dumps(row, ensure_ascii=False) + "\n")

    def close(self) -> None:
        try:
            self.f.close()
        except OSError:
            pass  # the write that failed has already been reported


def run(args: argparse.Namespace) -> int:
    if args.engine == "ray":
        from digitlens.engines.ray_engine import run as run_ray  # imports ray only when asked for

        return run_ray(args)
    inputs = [str(p) for p in image_inputs(args.source, args.recursive)]
    out = Path(args.out)
    if out.suffix.lower() not in (".jsonl", ".csv", ".json"):
        raise ValueError(f"--out must end in .jsonl or .csv, got {out.name}")
    out_real = os.path.realpath(out)
    if any(os.path.realpath(p) == out_real for p in inputs):
        raise ValueError(f"--out {out} is one of the inputs; refusing to overwrite it")
    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    build_reader(args, threads=1)  # fail fast on a bad model, before any worker starts
    writer = ResultWriter(out, args.resume)
    todo = [p for p in inputs if p not in writer.done]
    root = args.source if Path(args.source).is_dir() else None
    bar = Progress(len(todo), desc="batch")
    started = time.perf_counter()
    n_done = n_digits = n_errors = 0
    interrupted = False
    pool = None
    try:
        if args.workers == 1 or len(todo) <= 1:
            _init_worker_inline(args, args.save_annotated, root)
            results = map(process_one, todo)
        else:
            ctx = mp.get_context("spawn")
            pool = ctx.Pool(
                min(args.workers, len(todo)), initializer=_init_worker, initargs=(args, args.save_annotated, root)
            )
            results = pool.imap_unordered(process_one, todo, chunksize=1)
        for row in results:
            writer.write(row)
            n_done += 1
            n_digits += len(row["digits"])
            if row["error"]:
                n_errors += 1
                print(f"digitlens batch: {row['error']}", file=sys.stderr)
            bar.update(1)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        writer.close()
        bar.close()
    elapsed = time.perf_counter() - started
    skipped = len(inputs) - len(todo)
    print(
        f"{n_done} images read ({skipped} already done), {n_digits} digits found, {n_errors} errors, "
        f"{elapsed:.1f}s ({n_done / elapsed if elapsed > 0 else 0:.1f}/s) -> {out}",
        file=sys.stderr,
    )
    if interrupted:
        return 130
    return 1 if n_errors else 0


def _init_worker_inline(args, save_dir, root) -> None:
    global _reader, _save_dir, _root
    _reader = build_reader(args, threads=None)
    _save_dir, _root = save_dir, root
