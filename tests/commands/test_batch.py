import csv
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

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text())


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for name in EXPECTED:
        shutil.copy(SAMPLES / name, d / name)
    (d / "corrupt.png").write_bytes((SAMPLES / "blackboard.jpg").read_bytes()[:0] + b"\x89PNG\r\n\x1a\n" + b"\0" * 50)
    (d / "text.jpg").write_text("I am a text file with a .jpg name")
    return d


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_folder_with_bad_files(folder, tmp_path, capsys):
    out = tmp_path / "res.jsonl"
    assert main(["batch", str(folder), "--out", str(out), "--workers", "2"]) == 1
    got = {Path(r["file"]).name: r for r in rows(out)}
    assert set(got) == set(EXPECTED) | {"corrupt.png", "text.jpg"}
    for name, want in EXPECTED.items():
        assert got[name]["text"] == want["text"] and got[name]["error"] is None
    assert got["corrupt.png"]["error"] and got["text.jpg"]["error"]
    assert "2 errors" in capsys.readouterr().err


def test_csv_output_and_annotated_images(folder, tmp_path):
    out = tmp_path / "res.csv"
    ann = tmp_path / "ann"
    main(["batch", str(folder), "--out", str(out), "--workers", "1", "--save-annotated", str(ann)])
    with open(out) as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(EXPECTED) + 2
    by = {Path(r["file"]).name: r for r in table}
    assert by["whiteboard.jpg"]["text"] == EXPECTED["whiteboard.jpg"]["text"]
    assert len(list(ann.glob("*.annotated.png"))) == len(EXPECTED)
    assert all(p.resolve().parent == ann.resolve() for p in ann.iterdir())


def test_list_file_and_glob_sources(folder, tmp_path):
    lst = tmp_path / "inputs.txt"
    lst.write_text(f"{folder / 'blackboard.jpg'}\n# a comment\n{folder / 'sticky_note.jpg'}\n")
    out = tmp_path / "a.jsonl"
    assert main(["batch", str(lst), "--out", str(out), "--workers", "1"]) == 0
    assert len(rows(out)) == 2
    out2 = tmp_path / "b.jsonl"
    assert main(["batch", str(folder / "s*.jpg"), "--out", str(out2), "--workers", "1"]) == 0
    assert {Path(r["file"]).name for r in rows(out2)} == {
        "squared_lines.jpg",
        "sticky_note.jpg",
        "single_digit.jpg",
        "small_digits.jpg",
    }


def test_refuses_to_overwrite_an_input(folder, capsys):
    target = folder / "blackboard.jpg"
    before = target.read_bytes()
    lst = folder / "list.txt"
    lst.write_text(str(folder / "x.jsonl") + "\n")
    assert main(["batch", str(lst), "--out", str(folder / "x.jsonl")]) == 2
    assert "one of the inputs" in capsys.readouterr().err
    assert target.read_bytes() == before


def test_recursive_folder_with_a_symlink_loop(tmp_path):
    d = tmp_path / "tree"
    (d / "a" / "b").mkdir(parents=True)
    shutil.copy(SAMPLES / "blackboard.jpg", d / "a" / "b" / "x.jpg")
    (d / "a" / "b" / "loop").symlink_to(d / "a")
    out = tmp_path / "r.jsonl"
    assert main(["batch", str(d), "--recursive", "--out", str(out), "--workers", "1"]) == 0
    assert len(rows(out)) == 1


def test_sigkill_then_resume_gives_every_input_exactly_once(tmp_path):
    src = tmp_path / "many"
    src.mkdir()
    names = sorted(EXPECTED)
    for i in range(36):
        shutil.copy(SAMPLES / names[i % len(names)], src / f"{i:03d}_{names[i % len(names)]}")
    out = tmp_path / "res.jsonl"
    exe = [sys.executable, "-m", "digitlens", "batch", str(src), "--out", str(out), "--workers", "1"]
    for kill_after in (3, 9, 17):
        args = exe + (["--resume"] if out.exists() else [])
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if out.exists() and out.read_text().count("\n") >= kill_after:
                break
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL  # killed midway, not finished
        assert out.read_text().count("\n") < 36
    done = subprocess.run([*exe, "--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    files = [json.loads(line)["file"] for line in out.read_text().splitlines()]  # no torn line: all parse
    assert sorted(files) == sorted(str(p) for p in src.iterdir())
    assert len(files) == len(set(files)) == 36
