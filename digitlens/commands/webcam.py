"""`digitlens webcam`: read digits live from a camera, a video file or a stream.

For a camera a background thread keeps only the newest frame, so a slow frame never
makes the picture lag behind the scene; a video file is read frame by frame.  Results
come from a generator (`live_results`), and display, video saving and the JSONL log
are consumers of it, each optional.
Exit status: 0 source ended or user quit, 1 the camera stopped delivering frames,
2 usage error (source cannot be opened), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from digitlens.commands.common import add_reader_arguments, annotate, build_reader, have_display, write_image
from digitlens.inference.reader import Digit, Reader, Reading, compose_text
from digitlens.sources import SourceError, is_stream, parse_camera

WINDOW = "digitlens"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", default="0", help="camera index, video file or stream URL (default: 0)")
    p.add_argument(
        "--roi", default=None, metavar="X,Y,W,H", help="read only this region of the frame (default: whole frame)"
    )
    p.add_argument("--stride", type=int, default=1, help="read every Nth frame (default: 1)")
    p.add_argument("--no-show", action="store_true", help="no window, for servers (default: show a window)")
    p.add_argument("--save", default=None, metavar="OUT.mp4", help="write the annotated video (default: none)")
    p.add_argument(
        "--jsonl", default=None, metavar="OUT.jsonl", help="write one JSON line per frame read (default: none)"
    )
    p.add_argument("--snapshot-dir", default=".", help="where the s key saves snapshots (default: current folder)")
    p.add_argument("--max-frames", type=int, default=0, help="stop after N frames, 0 = no limit (default: 0)")
    p.add_argument(
        "--reconnect", type=float, default=3.0, help="seconds to wait for a stalled camera before stopping (default: 3)"
    )
    p.add_argument("--threads", type=int, default=1, help="onnxruntime threads (default: 1, leaves a core for capture)")
    add_reader_arguments(p)


class CameraLost(RuntimeError):
    pass


def parse_roi(text: str | None) -> tuple[int, int, int, int] | None:
    if not text:
        return None
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--roi must be X,Y,W,H in pixels, got {text!r}") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise ValueError(f"--roi needs a positive size and origin, got {text!r}")
    return x, y, w, h


def open_source(source: str, opener=cv2.VideoCapture):
    """-> (capture, is_camera).  A clear SourceError when nothing opens."""
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

    def __init__(self, capture):
        self.capture = capture
        self.frame = None
        self.seq = 0
        self.error: str | None = None
        self.failures_since = None
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
                    self.frame, self.seq = frame, self.seq + 1
                    self.failures_since = None
                    self._lock.notify_all()
                elif self.failures_since is None:
                    self.failures_since = time.monotonic()
            if not ok:
                time.sleep(0.05)

    def next(self, last_seq: int, timeout: float):
        """Wait for a frame newer than last_seq; None when none came within timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.seq <= last_seq:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None, last_seq
                self._lock.wait(min(left, 0.1))
            return self.frame, self.seq

    def stop(self) -> None:
        self._stop = True
        self.thread.join(timeout=2)


def frames(capture, live: bool, stride: int = 1, reconnect: float = 3.0) -> Iterator[tuple[int, np.ndarray]]:
    """(frame index, frame) from a capture; CameraLost when a live source stalls."""
    stride = max(1, stride)
    if live:
        grabber = LatestFrame(capture)
        seq = 0
        try:
            while True:
                frame, new_seq = grabber.next(seq, reconnect)
                if frame is None:
                    why = f" ({grabber.error})" if grabber.error else ""
                    raise CameraLost(f"camera delivered no frame for {reconnect:g}s{why}; stopped")
                seq = new_seq
                if seq % stride == 0 or stride == 1:
                    yield seq - 1, frame
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
                yield index, frame
            index += 1


@dataclass
class FrameResult:
    index: int
    time: float  # seconds since the start
    frame: np.ndarray
    reading: Reading
    fps: float

    def to_dict(self) -> dict:
        return {"frame": self.index, "time": round(self.time, 3), **self.reading.to_dict()}


def offset_reading(reading: Reading, dx: int, dy: int) -> Reading:
    move = lambda ds: [
        Digit(d.label, d.confidence, (d.box[0] + dx, d.box[1] + dy, d.box[2], d.box[3]), d.line, d.kind) for d in ds
    ]
    digits = move(reading.digits)
    return Reading(compose_text(digits), digits, move(reading.rejected), reading.image_size, reading.crops)


def live_results(source_frames, reader: Reader, roi=None) -> Iterator[FrameResult]:
    """Read every frame the source yields; FPS is a moving average of the loop rate."""
    start = last = time.perf_counter()
    fps = 0.0
    for index, frame in source_frames:
        if roi is not None:
            x, y, w, h = roi
            sub = frame[y : y + h, x : x + w]
            reading = offset_reading(reader.read(sub), x, y) if sub.size else Reading("", [], [])
        else:
            reading = reader.read(frame)
        now = time.perf_counter()
        dt = now - last
        last = now
        fps = (1 / dt if fps == 0 else 0.9 * fps + 0.1 / dt) if dt > 0 else fps
        yield FrameResult(index, now - start, frame, reading, fps)


def draw(result: FrameResult, roi=None) -> np.ndarray:
    out = annotate(result.frame, result.reading, fps=result.fps)
    if roi is not None:
        x, y, w, h = roi
        cv2.rectangle(out, (x, y), (x + w, y + h), (255, 128, 0), 1)
    return out


def live_loop(capture, live: bool, reader: Reader, args: argparse.Namespace, out=sys.stdout) -> int:
    """Consume the results: window, video, JSONL.  Every output is closed on any exit."""
    roi = parse_roi(args.roi)
    show = not args.no_show
    if show and not have_display():
        print("digitlens webcam: no display found; running without a window (--no-show)", file=sys.stderr)
        show = False
    writer = None
    log = open(args.jsonl, "w", encoding="utf-8") if args.jsonl else None
    status, n = 0, 0
    paused = False
    try:
        for result in live_results(frames(capture, live, args.stride, args.reconnect), reader, roi):
            n += 1
            if log:
                log.write(json.dumps(result.to_dict()) + "\n")
                log.flush()
            drawn = draw(result, roi) if (show or args.save) else None
            if args.save:
                if writer is None:
                    h, w = drawn.shape[:2]
                    fps = capture.get(cv2.CAP_PROP_FPS) if hasattr(capture, "get") else 0
                    writer = cv2.VideoWriter(
                        args.save, cv2.VideoWriter_fourcc(*"mp4v"), fps if fps and fps > 0 else 25.0, (w, h)
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
    except KeyboardInterrupt:
        status = 130
    finally:
        if writer is not None:
            writer.release()
        if log:
            log.close()
        if hasattr(capture, "release"):
            capture.release()
        if show:
            cv2.destroyAllWindows()
        print(f"digitlens webcam: {n} frames read", file=sys.stderr)
    return status


def run(args: argparse.Namespace) -> int:
    if args.stride < 1:
        raise ValueError("--stride must be at least 1")
    parse_roi(args.roi)
    reader = build_reader(args, threads=args.threads)
    capture, live = open_source(args.source)
    return live_loop(capture, live, reader, args)
