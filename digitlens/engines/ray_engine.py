"""`digitlens batch SOURCE --engine ray`: the same reading on a Ray cluster, through Ray Data.

The driver lists the inputs (a folder, glob or list file, or a pyarrow filesystem URI such
as s3://bucket/prefix) and hands Ray Data only their names.  A fixed pool of actors, each
holding one Reader (one onnxruntime session on one thread, loaded once), reads the files
itself, decodes them and returns one finished row per input as a JSON string; images never
pass through the driver.  Because the files are read inside the actors there is no separate
read task competing with the actors for CPUs (on 2 CPUs, two 1-CPU actors plus a read task
is a job that never starts).  The driver writes the rows with the local engine's writer, so
both engines write the same rows; Parquet is written at the end of the run.

Faults: Ray Data restarts an actor that dies and retries its batches; the driver writes each
input's row once however often a batch is retried.  Ray is imported only here, and only when
`--engine ray` is chosen.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from digitlens.commands.batch import ResultWriter, read_row

try:  # how --resume recognises an input: the local engine's rule, where it has one
    from digitlens.commands.batch import input_key
except ImportError:

    def input_key(path: str) -> str:
        return path


from digitlens.commands.common import config_from_args
from digitlens.inference.reader import Reader
from digitlens.preprocess.load import IMAGE_SUFFIXES, ImageLoadError, decode_image
from digitlens.progress import Progress
from digitlens.sources import SourceError, image_inputs

if TYPE_CHECKING:
    from pyarrow.fs import FileSystem

    from digitlens.preprocess import PreprocessConfig

INSTALL_HINT = 'the ray engine needs Ray Data: pip install "digitlens[ray]"'
OUT_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
MAX_BLOCKS = 20_000  # more blocks than this costs the driver more than the spreading gains


class MissingExtra(RuntimeError):
    """Ray or pyarrow is not installed."""


def _import_ray() -> ModuleType:
    try:
        import pyarrow  # noqa: F401
        import ray
        import ray.data
    except ImportError:
        raise MissingExtra(INSTALL_HINT) from None
    return ray


def is_uri(s: str) -> bool:
    """'s3://bucket/x', 'gs://...', 'file:///...': anything with a scheme that is not a local path."""
    head, sep, _ = s.partition("://")
    return bool(sep) and head.isidentifier() and len(head) > 1


# ---- inputs ---------------------------------------------------------------------------------
def list_inputs(source: str, recursive: bool = False) -> tuple[list[tuple[str, str]], FileSystem | None]:
    """(name, path) per input, and the pyarrow filesystem the paths are on (None: local files).

    `name` is what the row's `file` says: the local path as the local engine writes it, or
    the full URI.  A URI may end in a glob on the file name (s3://bucket/scans/*.jpg).
    """
    if not is_uri(source):
        return [(str(p), str(p)) for p in image_inputs(source, recursive)], None
    from pyarrow import fs as pafs

    pattern = None
    base = source
    if any(ch in source for ch in "*?["):
        base, _, pattern = source.rpartition("/")
    try:
        fs, root = pafs.FileSystem.from_uri(base)
        info = fs.get_file_info(root)
    except (OSError, ValueError) as exc:
        raise SourceError(f"{source}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if info.type == pafs.FileType.File and pattern is None:
        return [(source, root)], fs
    if info.type != pafs.FileType.Directory:
        raise SourceError(f"{source}: no such file, folder or prefix")
    found = fs.get_file_info(pafs.FileSelector(root, recursive=recursive or (pattern or "").startswith("**")))
    root_n = root.rstrip("/")
    base_n = base.rstrip("/")
    out = []
    for f in sorted(found, key=lambda i: i.path):
        if f.type != pafs.FileType.File or Path(f.path).suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if pattern and not fnmatch.fnmatch(f.base_name, pattern.lstrip("*/") if pattern.startswith("**") else pattern):
            continue
        out.append((base_n + f.path[len(root_n) :], f.path))
    return out, fs


def _uri_loader(fs: FileSystem, path: str) -> Callable[[str], np.ndarray]:
    def load(name: str) -> np.ndarray:
        try:
            with fs.open_input_file(path) as f:
                data = f.read()
        except FileNotFoundError:
            raise ImageLoadError(f"{name}: no such file") from None
        except OSError as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ImageLoadError(f"{name}: cannot read ({msg})") from None
        return decode_image(data, name)

    return load


# ---- the actors -----------------------------------------------------------------------------
class ReadActor:
    """One Ray actor: loads the model once, then turns batches of inputs into result rows."""

    def __init__(
        self,
        model: str | os.PathLike | None,
        config: PreprocessConfig,
        conf: float,
        fs: FileSystem | None = None,
        save_dir: str | None = None,
        root: str | None = None,
    ):
        self.reader = Reader(model, config=config, conf=conf, threads=1)
        self.fs, self.save_dir, self.root = fs, save_dir, root

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[str]]:
        rows = []
        for name, path in zip(batch["file"], batch["path"], strict=True):
            name, path = str(name), str(path)
            load = None if self.fs is None else _uri_loader(self.fs, path)
            row = read_row(self.reader, name, load=load, save_dir=self.save_dir)
            rows.append(json.dumps(row, ensure_ascii=False))
        return {"file": [str(n) for n in batch["file"]], "row": rows}


# ---- the output -----------------------------------------------------------------------------
def _digit_type():
    import pyarrow as pa

    return pa.struct(
        [("label", pa.int64()), ("confidence", pa.float64()), ("box", pa.list_(pa.int64())), ("line", pa.int64())]
    )


def parquet_schema():
    """The rows' schema as Arrow: the JSONL fields with their types."""
    import pyarrow as pa

    d = _digit_type()
    return pa.schema(
        [
            ("file", pa.string()),
            ("text", pa.string()),
            ("digits", pa.list_(d)),
            ("rejected", pa.list_(d)),
            ("error", pa.string()),
        ]
    )


class ParquetWriter:
    """Collects rows and writes one Parquet file at close (earlier rows kept on --resume)."""

    def __init__(self, path: Path, resume: bool):
        import pyarrow.parquet as pq

        self.path = path
        self.old = None
        self.rows: list[dict] = []
        self.done: set[str] = set()
        if resume and path.exists():
            try:
                self.old = pq.read_table(path).cast(parquet_schema())
            except (OSError, ValueError) as exc:
                raise ValueError(f"--resume: cannot read {path} as Parquet ({str(exc).splitlines()[0]})") from None
            self.done = {input_key(f) for f in self.old.column("file").to_pylist()}
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, row: dict) -> None:
        self.rows.append(row)

    def close(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(self.rows, schema=parquet_schema())
        if self.old is not None:
            table = pa.concat_tables([self.old, table])
        tmp = self.path.with_name(self.path.name + ".partial")
        pq.write_table(table, tmp)
        os.replace(tmp, self.path)


class Output:
    """JSONL/CSV (flushed row by row) or Parquet, on a local path or a URI (staged here, uploaded at close)."""

    def __init__(self, out: str, resume: bool):
        self.out = out
        self.remote = None
        self.stage_dir = None
        local = Path(out)
        if is_uri(out):
            from pyarrow import fs as pafs

            fs, path = pafs.FileSystem.from_uri(out)
            self.remote = (fs, path)
            self.stage_dir = tempfile.mkdtemp(prefix="digitlens-out-")
            local = Path(self.stage_dir) / Path(path).name
            if resume and fs.get_file_info(path).type == pafs.FileType.File:
                with fs.open_input_stream(path) as src, open(local, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        parquet = local.suffix.lower() == ".parquet"
        self.writer = ParquetWriter(local, resume) if parquet else ResultWriter(local, resume)
        self.local = local
        self.done = self.writer.done

    def write(self, row: dict) -> None:
        self.writer.write(row)

    def close(self) -> None:
        try:
            self.writer.close()
            if self.remote is not None:
                fs, path = self.remote
                parent = path.rstrip("/").rpartition("/")[0]
                if parent:
                    fs.create_dir(parent, recursive=True)  # a no-op on object stores
                with open(self.local, "rb") as src, fs.open_output_stream(path) as dst:
                    shutil.copyfileobj(src, dst)
        finally:
            if self.stage_dir:
                shutil.rmtree(self.stage_dir, ignore_errors=True)


# ---- the run --------------------------------------------------------------------------------
def start_ray(ray: ModuleType, address: str | None) -> bool:
    """Connect to `address`, or start a quiet local Ray on this machine's cores; True if we started one."""
    if ray.is_initialized():
        return False
    # Ray's own chatter (token set-up notes, the C++ core's notices) stays in its log files;
    # RAY_BACKEND_LOG_LEVEL=info in the environment brings it back
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    with _stderr_silenced():  # the core prints one line saying it read RAY_BACKEND_LOG_LEVEL
        if address:
            try:
                ray.init(address=address, **quiet)
            except ConnectionError as exc:
                if os.environ.get("RAY_AUTH_MODE"):
                    raise
                raise ConnectionError(
                    f"{exc} (a cluster with token authentication, Ray's default, also needs RAY_AUTH_MODE=token "
                    "and its token in ~/.ray/auth_token or RAY_AUTH_TOKEN)"
                ) from None
        else:
            ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False, **quiet)
    return True


@contextlib.contextmanager
def _stderr_silenced():
    """File descriptor 2 to /dev/null for a moment (C++ code writes there, not to sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def plan(n: int, cpus: int, concurrency: int | None, batch_size: int) -> tuple[int, int, int]:
    """(actors, rows per batch, blocks): a handful of files is still spread over every actor."""
    actors = max(1, min(concurrency or cpus, n))
    batch = max(1, min(batch_size, math.ceil(n / actors)))
    blocks = max(1, min(math.ceil(n / batch), MAX_BLOCKS))
    return actors, batch, blocks


def run(args: argparse.Namespace) -> int:
    ray = _import_ray()
    out_suffix = Path(args.out).suffix.lower()
    if out_suffix not in OUT_SUFFIXES:
        raise ValueError(f"--out must end in .jsonl, .csv or .parquet, got {Path(args.out).name}")
    if args.concurrency is not None and args.concurrency < 1:
        raise ValueError("--concurrency must be at least 1")
    if args.batch_size < 1:
        raise ValueError("--batch-size must be at least 1")
    inputs, fs = list_inputs(args.source, args.recursive)
    if not is_uri(args.out):
        out_real = os.path.realpath(args.out)
        if any(fs is None and os.path.realpath(p) == out_real for _, p in inputs):
            raise ValueError(f"--out {args.out} is one of the inputs; refusing to overwrite it")
    elif any(name == args.out for name, _ in inputs):
        raise ValueError(f"--out {args.out} is one of the inputs; refusing to overwrite it")
    config = config_from_args(args)
    Reader(args.model, config=config, conf=args.conf, threads=1)  # fail fast on a bad model
    output = Output(args.out, args.resume)
    todo = [(name, path) for name, path in inputs if input_key(name) not in output.done]
    root = args.source if fs is None and Path(args.source).is_dir() else None
    started = time.perf_counter()
    n_done = n_digits = n_errors = n_repeats = 0
    startup = 0.0
    bar = None
    interrupted = False
    we_started = False
    try:
        if todo:
            we_started = start_ray(ray, args.address)
            startup = time.perf_counter() - started
            ctx = ray.data.DataContext.get_current()
            # Ray Data 2.60's own bars printed nothing on a terminal here; the driver draws
            # the local engine's bar as rows arrive (redrawn on a terminal, one line elsewhere)
            ctx.enable_progress_bars = False
            ctx.print_on_execution_start = False
            logging.getLogger("ray.data").setLevel(logging.ERROR)
            cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
            actors, batch, blocks = plan(len(todo), cpus, args.concurrency, args.batch_size)
            ds = ray.data.from_items(
                [{"file": name, "path": path} for name, path in todo], override_num_blocks=blocks
            ).map_batches(
                ReadActor,
                fn_constructor_kwargs={
                    "model": args.model,
                    "config": config,
                    "conf": args.conf,
                    "fs": fs,
                    "save_dir": args.save_annotated,
                    "root": root,
                },
                batch_size=batch,
                compute=ray.data.ActorPoolStrategy(size=actors),
                # one CPU per actor; more actors than CPUs (photos on slow storage) share them
                num_cpus=min(1.0, cpus / actors),
                batch_format="numpy",
            )
            # a retried batch may come back twice: each input's row is written as often as it is listed
            owed = Counter(name for name, _ in todo)
            bar = Progress(len(todo), desc="batch (ray)")
            for result in ds.iter_batches(batch_size=None, batch_format="numpy"):
                for name, text in zip(result["file"], result["row"], strict=True):
                    if owed[name] <= 0:
                        n_repeats += 1
                        continue
                    owed[name] -= 1
                    row = json.loads(text)
                    output.write(row)
                    n_done += 1
                    n_digits += len(row["digits"])
                    if row["error"]:
                        n_errors += 1
                        print(f"digitlens batch: {row['error']}", file=sys.stderr)
                    bar.update(1)
    except KeyboardInterrupt:
        interrupted = True
    except ray.exceptions.RayError as exc:  # the job itself failed (a bad input never does)
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RuntimeError(f"Ray: {msg}") from None
    finally:
        if bar is not None:
            bar.close()
        output.close()
        if we_started:
            ray.shutdown()
    elapsed = time.perf_counter() - started
    skipped = len(inputs) - len(todo)
    repeats = f", {n_repeats} repeated rows dropped" if n_repeats else ""
    print(
        f"{n_done} images read ({skipped} already done), {n_digits} digits found, {n_errors} errors{repeats}, "
        f"{elapsed:.1f}s ({n_done / elapsed if elapsed > 0 else 0:.1f}/s, Ray start-up {startup:.1f}s) -> {args.out}",
        file=sys.stderr,
    )
    if interrupted:
        return 130
    return 1 if n_errors else 0
