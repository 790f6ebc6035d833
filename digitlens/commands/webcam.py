"""`digitlens webcam`: read digits live from a camera, a video file or a stream.

For a camera a background thread keeps only the newest frame, so a slow frame never
makes the picture lag behind the scene; a video file is read frame by frame.  Results
come from a generator (`live_results`), and display, video saving and the JSONL log
are consumers of it, each optional.
Without a window each change of reading is printed to stdout (`frame<TAB>text`), or
every frame as JSON with `--jsonl -`.
Exit status: 0 source ended or user quit, 1 the camera stopped delivering frames,
2 usage error (source cannot be opened), 130 interrupted, 143 terminated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, TextIO

import cv2
import numpy as np

from digitlens.cli import Terminated
from digitlens.commands.common import add_reader_arguments, annotate, build_reader, have_display, write_image
from digitlens.inference.reader import Digit, Reader, Reading, compose_text
from digitlens.preprocess.load import quiet_stderr
from digitlens.sources import SourceError, is_stream, parse_camera

WINDOW = "digitlens"
Roi = tuple[int, int, int, int]  # x, y, w, h in frame pixels


class FrameSource(Protocol):
    """What the loop reads frames from: a cv2.VideoCapture, or anything with its read()."""

    def read(self) -> tuple[bool, np.ndarray | None]: ...


class Capture(FrameSource, Protocol):
    """What `open_source` opens (cv2.VideoCapture by default)."""

    def isOpened(self) -> bool: ...

    def release(self) -> None: ...


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", default="0", help="camera index, video file or stream URL (default: 0)")
    p.add_argument(
        "--roi", default=None, metavar="X,Y,W,H", help="read only this region of the frame (default: whole frame)"
    )
    p.add_argument("--stride", type=int, default=1, help="read every Nth frame (default: 1)")
    p.add_argument(
        "--no-show",
        action="store_true",
        help="no window, for servers; each change of reading is printed as frame<TAB>text (default: show a window)",
    )
    p.add_argument("--save", default=None, metavar="OUT.mp4", help="write the annotated video (default: none)")
    p.add_argument(
        "--jsonl",
        default=None,
        metavar="OUT.jsonl",
        help="write one JSON line per frame read; '-' writes them to stdout (default: none)",
    )
    p.add_argument("--snapshot-dir", default=".", help="where the s key saves snapshots (default: current folder)")
    p.add_argument("--max-frames", type=int, default=0, help="stop after N frames, 0 = no limit (default: 0)")
    p.add_argument(
        "--reconnect", type=float, default=3.0, help="seconds to wait for a stalled camera before stopping (default: 3)"
    )
    p.add_argument("--threads", type=int, default=1, help="onnxruntime threads (default: 1, leaves a core for capture)")
    add_reader_arguments(p, rotate="0")  # a camera is held upright; auto costs a second pass


class CameraLost(RuntimeError):
    pass


def parse_roi(text: str | None) -> Roi | None:
    if not text:
        return None
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--roi must be X,Y,W,H in pixels, got {text!r}") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise ValueError(f"--roi needs a positive size and origin, got {text!r}")
    return x, y, w, h


def open_source(source: str, opener: Callable[..., Capture | None] = cv2.VideoCapture) -> tuple[Capture, bool]:
    """-> (capture, is_camera).  A clear SourceError when nothing opens; backend noise is kept off stderr."""
    with quiet_stderr():
        return _open_source(source, opener)


def _open_source(source: str, opener: Callable[..., Capture | None]) -> tuple[Capture, bool]:
    index = parse_camera(source)
    if index is not None:
        cap = opener(index)
        if cap is not None and cap.isOpened():
            return cap, True
        tried = [index]
        for other in range(4):
            if other == index:
                continue
            probe = opener(other)
            tried.append(other)
            ok = probe is not None and probe.isOpened()
            if probe is not None:
                probe.release()
            if ok:
                raise SourceError(f"camera {index} cannot be opened (camera {other} can: try --source {other})")
        raise SourceError(
            f"camera {index} cannot be opened; tried indices {', '.join(map(str, tried))}: no camera found"
        )
    if not is_stream(source) and not Path(source).exists():
        raise SourceError(f"{source}: no such video file")
    cap = opener(source)
    if cap is None or not cap.isOpened():
        raise SourceError(f"{source}: cannot be opened as a video or stream")
    return cap, is_stream(source)


class LatestFrame:
    """Reads a live capture on a thread and keeps only the newest frame."""

    def __init__(self, capture: FrameSource):
        self.capture = capture
        self.frame: np.ndarray | None = None
        self.seq = 0
        self.stamp = 0.0  # time.perf_counter() when the newest frame arrived
        self.error: str | None = None
        self.failures_since: float | None = None
        self._lock = threading.Condition()
        self._stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._stop:
            try:
                ok, frame = self.capture.read()
            except Exception as exc:  # a driver may raise anything from read(); the loop must survive it
                ok, frame, self.error = False, None, f"{type(exc).__name__}: {exc}"
            with self._lock:
                if ok and frame is not None:
                    self.frame, self.seq, self.stamp = frame, self.seq + 1, time.perf_counter()
                    self.failures_since = None
                    self._lock.notify_all()
                elif self.failures_since is None:
                    self.failures_since = time.monotonic()
            if not ok:
                time.sleep(0.05)

    def next(self, last_seq: int, timeout: float) -> tuple[np.ndarray | None, int, float]:
        """(frame, seq, arrival time) of the newest frame after last_seq; frame None when
        none came within timeout.  Frames that arrived in between are never seen."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.seq <= last_seq:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None, last_seq, 0.0
                self._lock.wait(min(left, 0.1))
            return self.frame, self.seq, self.stamp

    def stop(self) -> None:
        self._stop = True
        self.thread.join(timeout=2)


def frames(
    capture: FrameSource, live: bool, stride: int = 1, reconnect: float = 3.0
) -> Iterator[tuple[int, np.ndarray, float]]:
    """(frame index, frame, arrival time) from a capture; CameraLost when a live source stalls.

    A live source yields only its newest frame, and at most every `stride`-th: a reader
    slower than the camera skips the frames it had no time for (the gaps in the index)
    instead of queueing them, so it never falls behind.  A video file yields every
    `stride`-th frame in order.  Arrival times are time.perf_counter() seconds.
    """
    stride = max(1, stride)
    if live:
        grabber = LatestFrame(capture)
        seq = 0
        shown = -stride  # seq of the last frame yielded
        try:
            while True:
                frame, seq, stamp = grabber.next(max(seq, shown + stride - 1), reconnect)
                if frame is None:
                    why = f" ({grabber.error})" if grabber.error else ""
                    raise CameraLost(f"camera delivered no frame for {reconnect:g}s{why}; stopped")
                shown = seq
                yield seq - 1, frame, stamp
        finally:
            grabber.stop()
    else:
        index = 0
        while True:
            try:
                ok, frame = capture.read()
            except Exception as exc:  # see LatestFrame._loop
                raise CameraLost(f"video source failed: {type(exc).__name__}: {exc}") from None
            if not ok or frame is None:
                return
            if index % stride == 0:
                yield index, frame, time.perf_counter()
            index += 1


@dataclass
class FrameResult:
    index: int  # the source's frame number (gaps: frames skipped, by --stride or as stale)
    time: float  # seconds since the start
    frame: np.ndarray
    reading: Reading
    fps: float  # frames read per second, moving average
    age: float = 0.0  # seconds from the frame's arrival to its reading
    skipped: int = 0  # frames the source delivered so far that were not read

    def to_dict(self) -> dict:
        return {
            "frame": self.index,
            "time": round(self.time, 3),
            "fps": round(self.fps, 1),
            "age_ms": round(1000 * self.age, 1),
            **self.reading.to_dict(),
        }


def offset_reading(reading: Reading, dx: int, dy: int) -> Reading:
    def move(ds: list[Digit]) -> list[Digit]:
        return [replace(d, box=(d.box[0] + dx, d.box[1] + dy, d.box[2], d.box[3])) for d in ds]

    digits = move(reading.digits)
    return Reading(compose_text(digits), digits, move(reading.rejected), reading.image_size, reading.crops)


def check_roi(roi: Roi, frame: np.ndarray) -> None:
    x, y, w, h = roi
    fh, fw = frame.shape[:2]
    if x + w > fw or y + h > fh:
        raise ValueError(f"--roi {x},{y},{w},{h} does not fit in the {fw}x{fh} frame")


def live_results(
    source_frames: Iterable[tuple[int, np.ndarray, float]], reader: Reader, roi: Roi | None = None
) -> Iterator[FrameResult]:
    """Read every frame the source yields; FPS is a moving average of the loop rate."""
    start = last = time.perf_counter()
    fps = 0.0
    read = 0
    for index, frame, arrived in source_frames:
        read += 1
        if roi is not None:
            check_roi(roi, frame)
            x, y, w, h = roi
            sub = frame[y : y + h, x : x + w]
            reading = offset_reading(reader.read(sub), x, y) if sub.size else Reading("", [], [])
        else:
            reading = reader.read(frame)
        now = time.perf_counter()
        dt = now - last
        last = now
        fps = (1 / dt if fps == 0 else 0.9 * fps + 0.1 / dt) if dt > 0 else fps
        yield FrameResult(index, now - start, frame, reading, fps, max(0.0, now - arrived), index + 1 - read)


def draw(result: FrameResult, roi: Roi | None = None) -> np.ndarray:
    out = annotate(result.frame, result.reading, fps=result.fps)
    if roi is not None:
        x, y, w, h = roi
        cv2.rectangle(out, (x, y), (x + w, y + h), (255, 128, 0), 1)
    return out


def live_loop(
    capture: FrameSource, live: bool, reader: Reader, args: argparse.Namespace, out: TextIO | None = None
) -> int:
    """Consume the results: window, video, JSONL, printed readings.  Every output is closed on any exit."""
    out = sys.stdout if out is None else out
    roi = parse_roi(args.roi)
    show = not args.no_show
    if show and not have_display():
        print("digitlens webcam: no display found; running without a window (--no-show)", file=sys.stderr)
        show = False
    writer: cv2.VideoWriter | None = None
    log = (out if args.jsonl == "-" else open(args.jsonl, "w", encoding="utf-8")) if args.jsonl else None
    print_changes = not show and args.jsonl != "-"  # without a window, the readings go to stdout
    last_text = None
    status, n = 0, 0
    paused = False
    result: FrameResult | None = None
    try:
        for result in live_results(frames(capture, live, args.stride, args.reconnect), reader, roi):
            n += 1
            if log:
                log.write(json.dumps(result.to_dict()) + "\n")
                log.flush()
            if print_changes and result.reading.text != last_text:
                last_text = result.reading.text
                print(f"{result.index}\t{last_text}", file=out, flush=True)
            if show or args.save:
                drawn = draw(result, roi)
                if args.save:
                    if writer is None:
                        h, w = drawn.shape[:2]
                        fps = capture.get(cv2.CAP_PROP_FPS) if hasattr(capture, "get") else 0
                        writer = cv2.VideoWriter(
                            args.save, cv2.VideoWriter.fourcc(*"mp4v"), fps if fps and fps > 0 else 25.0, (w, h)
                        )
                        if not writer.isOpened():
                            raise OSError(f"{args.save}: cannot open for writing a video")
                    writer.write(drawn)
                if show:
                    cv2.imshow(WINDOW, drawn)
                    key = cv2.waitKey(1) & 0xFF
                    while True:
                        if key in (ord("q"), 27):
                            return 0
                        if key == ord("s"):
                            snap = Path(args.snapshot_dir) / f"snapshot_{result.index:06d}"
                            write_image(snap.with_suffix(".png"), result.frame)
                            snap.with_suffix(".json").write_text(json.dumps(result.to_dict(), indent=1))
                            print(f"saved {snap}.png and .json", file=sys.stderr)
                        if key == ord(" "):
                            paused = not paused
                        if not paused:
                            break
                        key = cv2.waitKey(50) & 0xFF
            if args.max_frames and n >= args.max_frames:
                break
    except CameraLost as exc:
        print(f"digitlens webcam: {exc}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt as exc:
        status = 143 if isinstance(exc, Terminated) else 130
    finally:
        if writer is not None:
            writer.release()
        if log and log is not out:
            log.close()
        if hasattr(capture, "release"):
            capture.release()
        if show:
            cv2.destroyAllWindows()
        print(f"digitlens webcam: {summary(n, result, live, args.stride)}", file=sys.stderr)
    return status


def summary(n: int, last: FrameResult | None, live: bool, stride: int = 1) -> str:
    """'12 frames read in 0.4 s (27.5 fps), 3 of the camera's frames skipped to stay current'."""
    text = f"{n} frames read"
    if last is not None and last.time > 0:
        text += f" in {last.time:.1f} s ({n / last.time:.1f} fps)"
    if last is not None and last.skipped:
        if not live:
            why = "by --stride"
        elif stride > 1:
            why = "by --stride or to stay current"
        else:
            why = "to stay current"
        text += f", {last.skipped} of the source's frames skipped {why}"
    return text


def prepare_output(path: str | None, option: str) -> None:
    """Create the folder of an output file before the camera opens; a clear error if that fails."""
    if not path or path == "-":
        return
    folder = Path(path).resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{option} {path}: cannot create the folder {folder} ({exc.strerror or exc})") from None
    if not os.access(folder, os.W_OK):
        raise ValueError(f"{option} {path}: the folder {folder} is not writable")


def run(args: argparse.Namespace) -> int:
    if args.stride < 1:
        raise ValueError("--stride must be at least 1")
    if args.max_frames < 0:
        raise ValueError(f"--max-frames must be 0 (no limit) or more, got {args.max_frames}")
    if args.reconnect <= 0:
        raise ValueError(f"--reconnect must be more than 0 seconds, got {args.reconnect:g}")
    if args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    parse_roi(args.roi)
    prepare_output(args.save, "--save")
    prepare_output(args.jsonl, "--jsonl")
    reader = build_reader(args, threads=args.threads)
    capture, live = open_source(args.source)
    return live_loop(capture, live, reader, args)
