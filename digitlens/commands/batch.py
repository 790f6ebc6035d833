"""`digitlens batch SOURCE --out results.jsonl`: every photo of a folder, glob or list.

Built to be interrupted: each result is written and flushed as its image finishes, so a
Ctrl-C, a crash or a power cut loses nothing already done, and `--resume` skips what the
output already holds (compared as resolved paths; error rows are tried again).  Worker
processes each own one onnxruntime session on one thread; a worker that dies (killed,
out of memory) is replaced, the images it held are tried once more, alone, and an image
that kills a worker twice gets an error row: every input gets its row, nothing hangs.
Exit status: 0 every input read, 1 some inputs failed (all others are in the output),
2 usage error, 130 interrupted (143 on SIGTERM), 141 output pipe closed.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

from digitlens.cli import Terminated
from digitlens.commands.common import (
    add_reader_arguments,
    annotate,
    annotated_names,
    build_reader,
    check_output_folder,
    refuse_overwriting_inputs,
    result_row,
    safe_stem,
    write_image,
)
from digitlens.preprocess.load import display_name, set_quiet_decoding
from digitlens.progress import Progress
from digitlens.sources import image_inputs

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    import numpy as np

    from digitlens.inference.reader import Reader

Task = tuple[str, str | None]  # (input path, annotated copy's file name or None)
T = TypeVar("T")

CSV_FIELDS = ["file", "text", "digits", "confidences", "boxes", "error"]
FORMATS = {".jsonl": "jsonl", ".json": "json", ".csv": "csv"}
WORKER_DIED = "worker process died while reading this file (killed or out of memory); tried twice"


def max_workers() -> int:
    """More workers than this only queue for the same cores (each uses one thread)."""
    return 2 * (os.cpu_count() or 1)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="a folder, a glob pattern (quote it), or a .txt file listing image paths")
    p.add_argument(
        "--out",
        required=True,
        help="results file, format from the suffix: .jsonl (one JSON object per line), .json (one array) or .csv; "
        "'-' writes JSON Lines to stdout",
    )
    p.add_argument("--recursive", action="store_true", help="descend into sub-folders (default: off)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="skip inputs already read in --out (errors are tried again) and append (default: start afresh)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help=f"worker processes, at most {max_workers()} (default: {os.cpu_count() or 1}, the number of cores)",
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
_reader: Reader | None = None
_save_dir: str | None = None


def _init_worker(args: argparse.Namespace, save_dir: str | None, root: str | None = None) -> None:
    """Per worker process: one reader on one thread (`root` is accepted for older callers, unused)."""
    global _reader, _save_dir
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides how to stop
    import cv2

    cv2.setNumThreads(1)  # OpenCV's own pool too: the workers already fill the cores
    _reader = build_reader(args, threads=1)
    _save_dir = save_dir
    set_quiet_decoding()


def process_one(path: str, save_name: str | None = None) -> dict:
    """One input -> one result row (see common.result_row); never raises.

    `save_name`: the annotated copy's file name, from common.annotated_names(all inputs)
    so that names are unique; without it the input's own stem is used.
    """
    if _reader is None:
        return result_row(path, "internal error (worker not initialised: no reader)")
    return read_row(_reader, path, save_dir=_save_dir, save_name=save_name)


def read_row(
    reader: Reader,
    path: str,
    load: Callable[[str], np.ndarray] | None = None,
    save_dir: str | None = None,
    save_name: str | None = None,
) -> dict:
    """`path` -> one result row with `reader`; `load(path)` gives the image (default: load_image).

    Never raises: an unreadable input becomes the row's one-line `error`.  Shared with the
    Ray engine (digitlens/engines/ray_engine.py), so both engines write the same rows.
    """
    from digitlens.preprocess.load import load_image

    try:
        image = (load or load_image)(path)
        reading = reader.read(image)
        if save_dir:
            name = save_name or f"{safe_stem(path)}.annotated.png"
            write_image(Path(save_dir) / name, annotate(image, reading))
    except (ValueError, OSError, MemoryError) as exc:  # ImageLoadError is a ValueError
        return result_row(path, exc)
    except Exception as exc:  # a bug must cost one row, not the run
        return result_row(path, f"internal error ({type(exc).__name__}: {exc})")
    return result_row(path, reading)


def _process_task(task: Task) -> dict:
    return process_one(*task)


# ---- writer side ------------------------------------------------------------------------
def input_key(path: str) -> str:
    """How --resume recognises an input: its resolved path, printable."""
    return display_name(os.path.realpath(path))


def csv_cell(value: str) -> str:
    """Quote a cell a spreadsheet would take for a formula (= + - @, tab, CR at the start)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_uncell(value: str) -> str:
    return value[1:] if value[:1] == "'" and value[1:2] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_row(row: dict) -> dict:
    return {
        "file": csv_cell(row["file"]),
        "text": row["text"],
        "digits": " ".join(str(d["label"]) for d in row["digits"]),
        "confidences": " ".join(f"{d['confidence']:.3f}" for d in row["digits"]),
        "boxes": " ".join(",".join(str(v) for v in d["box"]) for d in row["digits"]),
        "error": csv_cell(row["error"] or ""),
    }


class ResultWriter:
    """Appends rows to JSONL, JSON or CSV (or JSONL on stdout) and flushes each one.

    With resume, rows already in the file are kept except error rows and a line torn by
    a kill; `done` holds the resolved inputs they name.
    """

    def __init__(self, path: str | Path, resume: bool):
        self.path = Path(path)
        self.stdout = str(path) == "-"
        self.done: set[str] = set()
        self.n_rows = 0
        self.format: str
        self.f: TextIO
        if self.stdout:
            if resume:
                raise ValueError("--resume needs a results file, not '-'")
            self.format = "jsonl"
            self.f = sys.stdout
            return
        fmt = FORMATS.get(self.path.suffix.lower())
        if fmt is None:
            raise ValueError(f"--out must end in .jsonl, .json or .csv (or be '-'), got {self.path.name}")
        self.format = fmt
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept: list[dict] = []
        if resume and self.path.exists():
            kept = self._read_kept()
        self.f = open(self.path, "w", encoding="utf-8", newline="")
        if self.format == "csv":
            self._write(self._csv_text({f: f for f in CSV_FIELDS}))
        elif self.format == "json":
            self._write("[\n")
        for row in kept:  # rewritten whole: no torn line, no stale error row, no closing bracket
            self._emit(row, raw=True)

    def _read_kept(self) -> list[dict]:
        text = self.path.read_bytes().decode("utf-8", errors="replace")
        kept: list[dict] = []
        if self.format == "csv":
            for row in csv.DictReader(io.StringIO(text)):
                if None in row or any(row.get(k) is None for k in ("file", "error")) or row["error"]:
                    continue  # torn, or an error to retry
                row = {k: row.get(k) or "" for k in CSV_FIELDS}
                self.done.add(input_key(csv_uncell(row["file"])))
                kept.append(row)
            return kept
        for line in text.splitlines():
            line = line.strip().rstrip(",")
            if line in ("", "[", "]"):
                continue
            try:
                row = json.loads(line)
                name = row["file"]
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a kill
            if not row.get("error"):
                self.done.add(input_key(name))
                kept.append(row)
        return kept

    def _csv_text(self, row: dict) -> str:
        buf = io.StringIO()
        csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n").writerow(row)
        return buf.getvalue()

    def _write(self, text: str) -> None:
        try:
            self.f.write(text)
            self.f.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OSError(f"cannot write results to {self.path}: {exc.strerror or exc}") from None

    def _emit(self, row: dict, raw: bool = False) -> None:
        if self.format == "csv":
            text = self._csv_text(row if raw else csv_row(row))
        else:
            body = json.dumps(row, ensure_ascii=False)
            # JSON: '[', then one row per line with the comma ahead of the next, ']' at close
            text = ((",\n" if self.n_rows else "") + body) if self.format == "json" else body + "\n"
        self._write(text)
        self.n_rows += 1

    def write(self, row: dict) -> None:
        self._emit(row)

    def close(self) -> None:
        if self.stdout:
            return
        try:
            if self.format == "json":
                self.f.write("\n]\n" if self.n_rows else "]\n")
            self.f.close()
        except OSError:
            pass  # the write that failed has already been reported


# ---- running ----------------------------------------------------------------------------
def run_inline(tasks: Iterable[Task], args: argparse.Namespace, save_dir: str | None) -> Iterator[dict]:
    _init_worker_inline(args, save_dir)
    for task in tasks:
        yield _process_task(task)


def _spawn_quietly(submit: Callable[[], T]) -> T:
    """Workers started while SIGINT is ignored inherit that: a Ctrl-C during their start-up
    (imports take a second) leaves no traceback; the parent stops them itself."""
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return submit()
    finally:
        signal.signal(signal.SIGINT, old)


def _stop(executor: ProcessPoolExecutor) -> None:
    for proc in list((getattr(executor, "_processes", None) or {}).values()):
        try:
            proc.terminate()
        except Exception:
            pass
    executor.shutdown(wait=False, cancel_futures=True)


def run_pool(
    tasks: list[Task],
    n_workers: int,
    args: argparse.Namespace,
    save_dir: str | None,
    work: Callable[[Task], dict] = _process_task,
    init: Callable[[argparse.Namespace, str | None], None] = _init_worker,
) -> Iterator[dict]:
    """Rows as workers finish them; a dead worker is replaced and its images retried alone.

    At most n_workers images are in flight.  When a worker dies every image in flight
    fails with it: each becomes a suspect, run again with nothing beside it, and a
    suspect that kills its worker again gets the error row WORKER_DIED.
    """
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    queue: deque[Task] = deque(tasks)
    suspects: deque[Task] = deque()
    inflight: dict[Future[dict], tuple[Task, bool]] = {}
    executor: ProcessPoolExecutor | None = None
    ctx = mp.get_context("spawn")
    try:
        while queue or suspects or inflight:
            if executor is None:
                executor = ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=init, initargs=(args, save_dir))
            if suspects:
                if not inflight:
                    task = suspects.popleft()
                    inflight[_spawn_quietly(partial(executor.submit, work, task))] = (task, True)
            else:
                while queue and len(inflight) < n_workers:
                    task = queue.popleft()
                    inflight[_spawn_quietly(partial(executor.submit, work, task))] = (task, False)
            done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                task, alone = inflight.pop(fut)
                try:
                    yield fut.result()
                except BrokenProcessPool:
                    broken = True
                    if alone:
                        yield result_row(task[0], WORKER_DIED)
                    else:
                        suspects.append(task)
            if broken:
                for fut, (task, alone) in list(inflight.items()):  # they fail with the pool, or finished first
                    inflight.pop(fut)
                    try:
                        yield fut.result()
                    except BrokenProcessPool:
                        if alone:
                            yield result_row(task[0], WORKER_DIED)
                        else:
                            suspects.append(task)
                _stop(executor)
                executor = None
    finally:
        if executor is not None:
            _stop(executor)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "engine", "local") == "ray":
        from digitlens.engines.ray_engine import run as run_ray  # imports ray only when asked for

        return run_ray(args)

    def note(text: str) -> None:
        print(f"digitlens batch: {text}", file=sys.stderr)

    inputs = [str(p) for p in image_inputs(args.source, args.recursive, note)]
    refuse_overwriting_inputs([args.out] if args.out != "-" else [], inputs, "--out")
    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    workers = args.workers
    if workers > max_workers():
        note(f"--workers {workers} is more than twice the {os.cpu_count() or 1} cores; using {max_workers()}")
        workers = max_workers()
    save_dir = None
    if args.save_annotated:
        tree = args.source if args.recursive and Path(args.source).is_dir() else None
        save_dir = str(check_output_folder(args.save_annotated, inputs, "--save-annotated", tree))
    build_reader(args, threads=1)  # fail fast on a bad model, before any worker starts
    writer = ResultWriter(args.out, args.resume)
    names = annotated_names(inputs) if save_dir else {}
    todo = [p for p in inputs if input_key(p) not in writer.done]
    tasks = [(p, names.get(p)) for p in todo]
    bar = Progress(len(todo), desc="batch", final_line=False)
    started = time.perf_counter()
    n_done = n_digits = n_errors = 0
    status = None
    rows = None
    try:
        if workers == 1 or len(todo) <= 1:
            rows = run_inline(tasks, args, save_dir)
        else:
            rows = run_pool(tasks, min(workers, len(todo)), args, save_dir)
        for row in rows:
            writer.write(row)
            n_done += 1
            n_digits += len(row["digits"])
            if row["error"]:
                n_errors += 1
                bar.note(f"digitlens batch: {row['error']}")
            bar.update(1)
    except KeyboardInterrupt as exc:
        status = 143 if isinstance(exc, Terminated) else 130
    except BrokenPipeError:
        status = 141
    finally:
        if rows is not None and hasattr(rows, "close"):
            rows.close()  # stops the workers
        writer.close()
        bar.close()
    if status == 141:
        return status  # the reader of our output has gone; nothing more to say
    elapsed = time.perf_counter() - started
    skipped = len(inputs) - len(todo)
    print(
        f"{n_done} images read ({skipped} already done), {n_digits} digits found, {n_errors} errors, "
        f"{elapsed:.1f}s ({n_done / elapsed if elapsed > 0 else 0:.1f}/s) -> {args.out}",
        file=sys.stderr,
    )
    if status is not None:
        return status
    return 1 if n_errors else 0


def _init_worker_inline(args: argparse.Namespace, save_dir: str | None, root: str | None = None) -> None:
    global _reader, _save_dir
    _reader = build_reader(args, threads=None)
    _save_dir = save_dir
    set_quiet_decoding()
