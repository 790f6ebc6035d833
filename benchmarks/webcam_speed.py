"""Does `digitlens webcam` keep up with a 30 fps camera on one core?  (issue 17)

    python benchmarks/webcam_speed.py --data-dir ../shared/data/mnist --seconds 20

A fake camera delivers generated 640x480 frames (12 digits each) at --fps in real time,
from its own thread, as a USB camera's driver does.  The whole process is pinned to one
CPU core (capture thread and reader share it), with one onnxruntime and one OpenCV
thread.  Two consumers read the same camera, side by side in one run:

- newest frame: what `digitlens webcam` does (`webcam.frames(live=True)`): the reader
  takes the newest frame and the frames it had no time for are skipped;
- queued: every frame is queued and read in order (what a naive loop over a buffered
  capture does).

For each: frames read per second, the share of the camera's frames skipped, and the age
of each reading (from the frame's arrival to its reading: what the user sees lag by),
in the first and the last seconds of the run.  Falling behind shows as an age that grows.
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digitlens.commands import webcam  # noqa: E402
from digitlens.export import data as mnist  # noqa: E402
from digitlens.inference import Reader  # noqa: E402
from digitlens.synth import make_scene  # noqa: E402


class PacedCamera:
    """Delivers `frames` cyclically at `fps` in real time for `seconds`; read() blocks like a driver."""

    def __init__(self, frames: list[np.ndarray], fps: float, seconds: float):
        self.frames, self.period = frames, 1.0 / fps
        self.count = int(fps * seconds)
        self.k = 0
        self.start = time.perf_counter()

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.k >= self.count:
            time.sleep(0.05)
            return False, None
        wait = self.start + (self.k + 1) * self.period - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        frame = self.frames[self.k % len(self.frames)].copy()  # a driver hands out a new buffer
        self.k += 1
        return True, frame


def camera_frames(test, n: int) -> tuple[list[np.ndarray], list[str]]:
    rng = np.random.default_rng(5)
    frames, texts = [], []
    while len(frames) < n:
        sc = make_scene(rng, test.images, test.labels, "paper", "lines", (640, 480))
        if len(sc.labels) >= 12:
            frames.append(sc.image)
            texts.append(sc.text)
    return frames, texts


def newest(cam: PacedCamera, reader: Reader) -> list[tuple[int, float, float, str]]:
    """(frame index, arrival, reading done, text) per frame read, the way `digitlens webcam` reads."""
    out = []
    try:
        for r in webcam.live_results(webcam.frames(cam, live=True, reconnect=1.0), reader):
            done = time.perf_counter()
            out.append((r.index, done - r.age, done, r.reading.text))
    except webcam.CameraLost:  # the fake camera ran out of frames
        pass
    return out


def queued(cam: PacedCamera, reader: Reader) -> list[tuple[int, float, float, str]]:
    """Every frame queued by the capture thread and read in order."""
    q: queue.Queue = queue.Queue()

    def grab() -> None:
        for k in range(cam.count):
            _ok, frame = cam.read()
            q.put((k, frame, time.perf_counter()))
        q.put(None)

    threading.Thread(target=grab, daemon=True).start()
    out, start = [], time.perf_counter()
    budget = 3 * cam.count * cam.period  # a reader far behind is stopped, not waited for
    while (item := q.get()) is not None and time.perf_counter() - start < budget:
        k, frame, arrived = item
        text = reader.read(frame).text
        out.append((k, arrived, time.perf_counter(), text))
    return out


def summarise(name: str, rows, cam: PacedCamera, texts: list[str]) -> list[str]:
    idx = np.array([r[0] for r in rows])
    arrived = np.array([r[1] for r in rows])
    done = np.array([r[2] for r in rows])
    age = 1000 * (done - arrived)
    t = done - cam.start
    first, last = age[t < 1 + t.min()], age[t > t.max() - 1]
    right = np.mean([r[3] == texts[r[0] % len(texts)] for r in rows])
    return [
        name,
        f"{len(rows) / (t.max() - t.min() + 1e-9):.1f}",
        f"{100 * (1 - len(rows) / cam.count):.0f} %",
        f"{np.median(age):.0f}",
        f"{np.percentile(age, 95):.0f}",
        f"{np.median(first):.0f} -> {np.median(last):.0f}",
        f"{idx.max() + 1}/{cam.count}",
        f"{100 * right:.0f} %",
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: $DIGITLENS_DATA or the user cache)")
    p.add_argument("--fps", type=float, default=30.0, help="camera frame rate (default: 30)")
    p.add_argument("--seconds", type=float, default=20.0, help="length of each run (default: 20)")
    p.add_argument("--core", type=int, default=None, help="CPU core to pin to (default: the first allowed)")
    args = p.parse_args(argv)
    if args.fps <= 0 or args.seconds <= 0:
        print(f"webcam_speed: --fps and --seconds must be above 0, got {args.fps:g}, {args.seconds:g}", file=sys.stderr)
        return 2
    if hasattr(os, "sched_setaffinity"):
        core = args.core if args.core is not None else min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
    cv2.setNumThreads(1)
    test = mnist.load_split("test", args.data_dir)
    frames, texts = camera_frames(test, 8)
    reader = Reader(threads=1, rotate=0)  # as `digitlens webcam` builds it
    reader.read(frames[0])  # warm up
    rows = []
    for name, consume in (("newest frame (digitlens webcam)", newest), ("queued, every frame in order", queued)):
        cam = PacedCamera(frames, args.fps, args.seconds)
        rows.append(summarise(name, consume(cam, reader), cam, texts))
    header = [
        "consumer",
        "read fps",
        "skipped",
        "age median ms",
        "age p95 ms",
        "age 1st -> last s ms",
        "reached",
        "right",
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"camera {args.fps:g} fps for {args.seconds:g} s, 640x480, 12 digits a frame, one core, one thread")
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print("reached: the newest camera frame read by the end of the camera's run (queued: by 3x its length)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
