"""Faults during work: interrupts, full disks, unwritable folders, hostile file names."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digitlens.cli import main
from digitlens.commands.common import safe_stem

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def many(tmp_path, n=40):
    src = tmp_path / "many"
    src.mkdir()
    names = sorted(p for p in SAMPLES.glob("*.jpg"))
    for i in range(n):
        shutil.copy(names[i % len(names)], src / f"{i:03d}.jpg")
    return src


def sigint_default() -> None:
    """In the child before exec: Ctrl-C as at a terminal.  A job started in the background of
    a non-interactive shell (nohup, a CI runner's `cmd &`) ignores SIGINT, its children
    inherit that, and Python then installs no KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_lines(path, n, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if path.exists() and path.read_text().count("\n") >= n:
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigint_in_batch_closes_output_prints_summary_exits_130(tmp_path, workers):
    src = many(tmp_path, 300)  # enough that a fast machine is still reading when the signal comes
    out = tmp_path / "res.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "digitlens", "batch", str(src), "--out", str(out), "--workers", workers],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_default,
    )
    assert wait_for_lines(out, 3, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "images read" in err  # the summary
    rows = [json.loads(line) for line in out.read_text().splitlines()]  # every line whole
    assert 3 <= len(rows) < 300


def test_sigint_in_webcam_closes_outputs_and_exits_130(tmp_path):
    import cv2

    video = tmp_path / "v.mp4"
    frame = cv2.resize(cv2.imread(str(SAMPLES / "blackboard.jpg")), (640, 480))
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (640, 480))
    for _ in range(600):
        w.write(frame)
    w.release()
    log, saved = tmp_path / "f.jsonl", tmp_path / "a.mp4"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "digitlens",
            "webcam",
            "--source",
            str(video),
            "--no-show",
            "--jsonl",
            str(log),
            "--save",
            str(saved),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_default,
    )
    assert wait_for_lines(log, 5, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "frames read" in err
    n = len([json.loads(l) for l in log.read_text().splitlines()])
    cap = cv2.VideoCapture(str(saved))  # a properly closed file: readable, frames counted
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) >= n - 1


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_disk_is_a_clear_error_at_the_first_write(tmp_path, capsys):
    src = many(tmp_path, 3)
    out = tmp_path / "res.jsonl"
    out.symlink_to("/dev/full")
    assert main(["batch", str(src), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any("cannot write results" in line and "No space left on device" in line for line in err)


def test_unwritable_output_folder(tmp_path, capsys):
    src = many(tmp_path, 2)
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    assert main(["batch", str(src), "--out", str(blocker / "res.jsonl"), "--workers", "1"]) == 2
    assert "afile" in capsys.readouterr().err
    assert main(["photo", str(SAMPLES / "blackboard.jpg"), "--save", str(blocker / "x.png")]) == 2
    assert "afile" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.jpg", "a/../../b.jpg", "..hidden.jpg", "line\nbreak.jpg", "/abs/x.jpg", "ünï cødé.jpg"]
)
def test_output_names_cannot_escape(name, tmp_path):
    stem = safe_stem(name)
    target = (tmp_path / f"{stem}.annotated.png").resolve()
    assert target.parent == tmp_path.resolve()
    assert "/" not in stem and "\n" not in stem and not stem.startswith(".")


def test_annotated_images_stay_in_the_named_folder(tmp_path):
    src = tmp_path / "in" / "..odd"
    src.mkdir(parents=True)
    shutil.copy(SAMPLES / "blackboard.jpg", src / "..x.jpg")
    ann = tmp_path / "ann"
    main(
        [
            "batch",
            str(tmp_path / "in"),
            "--recursive",
            "--out",
            str(tmp_path / "r.jsonl"),
            "--save-annotated",
            str(ann),
            "--workers",
            "1",
        ]
    )
    written = [p for p in tmp_path.rglob("*.png")]
    assert written and all(p.resolve().parent == ann.resolve() for p in written)


def test_checkpoints_load_without_pickle(tmp_path):
    torch = pytest.importorskip("torch")
    from digitlens.export.onnx_export import load_model

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    bad = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, bad)
    with pytest.raises(Exception) as info:
        load_model("digitnet", bad)
    assert "weights_only" in str(info.value) or "Unsupported" in str(info.value)
