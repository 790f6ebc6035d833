import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from digitlens.cli import main
from digitlens.commands import webcam
from digitlens.sources import SourceError

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text())


def make_video(path: Path, scenes: list[tuple[str, int]], size=(640, 480), fps=10) -> None:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert w.isOpened()
    for name, count in scenes:
        frame = cv2.resize(cv2.imread(str(SAMPLES / name)), size, interpolation=cv2.INTER_AREA)
        for _ in range(count):
            w.write(frame)
    w.release()


def test_video_file_every_frame_read_with_the_page_still(tmp_path):
    video = tmp_path / "clip.mp4"
    make_video(video, [("blackboard.jpg", 6), ("sticky_note.jpg", 6)])
    log = tmp_path / "frames.jsonl"
    saved = tmp_path / "annotated.mp4"
    assert main(["webcam", "--source", str(video), "--no-show", "--jsonl", str(log), "--save", str(saved)]) == 0
    frames = [json.loads(l) for l in log.read_text().splitlines()]
    assert [f["frame"] for f in frames] == list(range(12))
    assert all(f["text"] == EXPECTED["blackboard.jpg"]["text"] for f in frames[1:5])
    assert all(f["text"] == EXPECTED["sticky_note.jpg"]["text"] for f in frames[7:11])
    cap = cv2.VideoCapture(str(saved))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12


def test_stride_and_roi(tmp_path):
    video = tmp_path / "clip.mp4"
    make_video(video, [("blackboard.jpg", 9)])
    log = tmp_path / "f.jsonl"
    assert (
        main(
            ["webcam", "--source", str(video), "--no-show", "--jsonl", str(log), "--stride", "3", "--roi", "0,0,10,10"]
        )
        == 0
    )
    frames = [json.loads(l) for l in log.read_text().splitlines()]
    assert [f["frame"] for f in frames] == [0, 3, 6]
    assert all(f["text"] == "" for f in frames)  # an empty corner holds no digits


class FakeCamera:
    """Delivers `good` frames, then fails: by returning False, or by raising."""

    def __init__(self, frame, good: int, mode: str = "false"):
        self.frame, self.good, self.mode, self.calls, self.released = frame, good, mode, 0, False

    def isOpened(self):
        return True

    def read(self):
        self.calls += 1
        if self.calls <= self.good:
            time.sleep(0.01)
            return True, self.frame.copy()
        if self.mode == "raise":
            raise OSError("USB device disconnected")
        time.sleep(0.01)
        return False, None

    def get(self, prop):
        return 0.0

    def release(self):
        self.released = True


def live_args(tmp_path, **kw):
    ns = dict(
        roi=None,
        stride=1,
        no_show=True,
        save=None,
        jsonl=str(tmp_path / "live.jsonl"),
        snapshot_dir=str(tmp_path),
        max_frames=0,
        reconnect=0.5,
    )
    ns.update(kw)
    return argparse.Namespace(**ns)


@pytest.mark.parametrize("mode", ["false", "raise"])
def test_camera_that_stops_delivering_ends_cleanly(tmp_path, reader, mode, capsys):
    frame = cv2.resize(cv2.imread(str(SAMPLES / "blackboard.jpg")), (640, 480))
    cam = FakeCamera(frame, good=5, mode=mode)
    start = time.monotonic()
    status = webcam.live_loop(cam, True, reader, live_args(tmp_path))
    assert status == 1 and time.monotonic() - start < 10
    assert cam.released
    lines = (tmp_path / "live.jsonl").read_text().splitlines()
    assert 1 <= len(lines) <= 5 and all(json.loads(l)["text"] == EXPECTED["blackboard.jpg"]["text"] for l in lines)
    assert "no frame" in capsys.readouterr().err


class PacedCamera:
    """A camera delivering `fps` frames a second in real time; frame k carries k in its pixels."""

    def __init__(self, fps: float, count: int):
        self.period, self.count, self.k = 1.0 / fps, count, 0
        self.start = time.perf_counter()

    def read(self):
        if self.k >= self.count:
            time.sleep(0.01)
            return False, None
        time.sleep(max(0.0, self.start + (self.k + 1) * self.period - time.perf_counter()))
        frame = np.full((8, 8), self.k % 256, np.uint8)
        self.k += 1
        return True, frame


class SlowReader:
    """Takes `seconds` per frame and reads the frame number back out of its pixels."""

    def __init__(self, seconds: float):
        self.seconds, self.seen = seconds, []

    def read(self, frame):
        self.seen.append(int(frame[0, 0]))
        time.sleep(self.seconds)
        return webcam.Reading("", [], [])


def until_lost(results):
    """The results of a live source until its camera runs out of frames."""
    out = []
    with pytest.raises(webcam.CameraLost):
        for r in results:
            out.append(r)
    return out


def test_a_slow_reader_skips_stale_frames_and_never_falls_behind():
    cam, reader = PacedCamera(fps=100, count=150), SlowReader(0.03)  # the camera is 3x faster than the reader
    results = until_lost(webcam.live_results(webcam.frames(cam, live=True, reconnect=0.5), reader))
    indices = [r.index for r in results]
    assert indices == sorted(set(indices)) and reader.seen == [i % 256 for i in indices]
    assert 10 <= len(results) <= 55  # at most a third of the frames read, none queued
    assert results[-1].skipped == indices[-1] + 1 - len(results) > 50
    # each frame read is about the newest: it waited about one camera period plus a read.
    # Queued, the last of 150 frames would wait for the 100 reads before it (3 s).
    assert max(r.age for r in results) < 0.3
    assert 5 < results[-1].fps < 40


def test_a_queued_video_file_reads_every_frame_and_the_summary_counts_them(tmp_path, capsys):
    cam = PacedCamera(fps=1000, count=12)
    reader = SlowReader(0.0)
    status = webcam.live_loop(cam, False, reader, live_args(tmp_path, stride=3))
    assert status == 0 and reader.seen == [0, 3, 6, 9]
    err = capsys.readouterr().err
    assert "4 frames read in" in err and "fps)" in err and "6 of the source's frames skipped by --stride" in err
    lines = [json.loads(l) for l in (tmp_path / "live.jsonl").read_text().splitlines()]
    assert [l["frame"] for l in lines] == [0, 3, 6, 9] and all("fps" in l and "age_ms" in l for l in lines)


def test_a_live_stride_reads_at_most_every_nth_frame():
    cam, reader = PacedCamera(fps=200, count=60), SlowReader(0.0)
    results = until_lost(webcam.live_results(webcam.frames(cam, live=True, stride=4, reconnect=0.5), reader))
    gaps = np.diff([r.index for r in results])
    assert len(results) >= 8 and gaps.min() >= 4
    assert "skipped by --stride or to stay current" in webcam.summary(len(results), results[-1], True, 4)
    assert "skipped to stay current" in webcam.summary(len(results), results[-1], True, 1)


def test_camera_that_cannot_be_opened_names_the_indices():
    class Closed:
        def isOpened(self):
            return False

        def release(self):
            pass

    with pytest.raises(SourceError, match=r"camera 2 cannot be opened; tried indices 2, 0, 1, 3"):
        webcam.open_source("2", opener=lambda src: Closed())


def test_missing_video_and_bad_roi(tmp_path, capsys):
    assert main(["webcam", "--source", str(tmp_path / "none.mp4"), "--no-show"]) == 2
    assert "no such video file" in capsys.readouterr().err
    assert main(["webcam", "--source", str(tmp_path / "none.mp4"), "--roi", "1,2,3"]) == 2
    assert "--roi must be X,Y,W,H" in capsys.readouterr().err


def start_xvfb(timeout: float = 30.0) -> tuple[subprocess.Popen, str]:
    """Start Xvfb on a display it picks itself (-displayfd) and return once it accepts clients."""
    import select

    r, w = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(w), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(w,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(w)
    number, deadline = b"", time.monotonic() + timeout
    try:
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(r, 16) if ready else b""
            if not chunk:  # timed out, or Xvfb exited without naming a display
                xvfb.kill()
                xvfb.wait(timeout=10)
                pytest.fail(f"Xvfb did not report a display within {timeout:.0f}s (exit code {xvfb.poll()})")
            number += chunk
    finally:
        os.close(r)
    return xvfb, f":{int(number)}"


@pytest.mark.skipif(not shutil.which("Xvfb"), reason="Xvfb not installed (Debian package xvfb)")
def test_real_window_under_xvfb(tmp_path):
    ImageGrab = pytest.importorskip("PIL.ImageGrab")
    xvfb, display = start_xvfb()  # a free display, ready: no fixed :99, no fixed sleep
    video = tmp_path / "clip.mp4"
    make_video(video, [("blackboard.jpg", 1500)])  # long enough to be on screen on a loaded machine
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    proc = None
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "digitlens", "webcam", "--source", str(video)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        shot, deadline = None, time.monotonic() + 90  # a loaded machine may take long to start python
        lit, grabs = 0.0, 0  # for the message if it fails: how much of the screen ever showed anything
        while shot is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.3)
            img = np.asarray(ImageGrab.grab(xdisplay=display).convert("RGB"))
            grabs += 1
            lit = max(lit, float((img.max(axis=2) > 0).mean()))
            green = (img[:, :, 1] > 180) & (img[:, :, 0] < 40) & (img[:, :, 2] < 40)
            if green.sum() > 200:
                shot = img
        if shot is None:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
            err = proc.stderr.read().decode(errors="replace")[-500:]
            pytest.fail(
                f"no window with green boxes appeared ({grabs} screenshots, at most {lit:.0%} of the screen lit; "
                f"webcam exit {proc.returncode}): {err}"
            )
        cv2.imwrite(str(Path(os.environ.get("DIGITLENS_SCREENSHOT", tmp_path / "screen.png"))), shot[:, :, ::-1])
        # the frame (dark board) and the banner's yellow text are on screen too
        board = (shot.sum(axis=2) < 200).mean()
        yellow = ((shot[:, :, 0] > 200) & (shot[:, :, 1] > 200) & (shot[:, :, 2] < 60)).sum()
        assert board > 0.1 and yellow > 20
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        xvfb.terminate()
        xvfb.wait(timeout=10)
