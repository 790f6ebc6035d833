import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from digitlens.cli import main

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_sample_reads_as_its_ground_truth(name, capsys):
    assert main(["photo", str(SAMPLES / name)]) == 0
    path, text = capsys.readouterr().out.rstrip("\n").split("\t")
    assert path.endswith(name) and text == EXPECTED[name]["text"]


def test_json_schema_and_annotated_save(tmp_path, capsys):
    out = tmp_path / "annotated.png"
    assert main(["photo", str(SAMPLES / "notebook_line.jpg"), "--json", "--save", str(out)]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert set(rec) == {"file", "text", "digits", "rejected", "error", "rotation", "surface"}
    assert rec["error"] is None and rec["text"] == EXPECTED["notebook_line.jpg"]["text"]
    d = rec["digits"][0]
    assert set(d) == {"label", "confidence", "box", "line", "kind"} and len(d["box"]) == 4  # kind added, none removed
    assert all(d["kind"] == "digit" for d in rec["digits"])
    assert all(r["kind"] in ("not_digit", "low_confidence") for r in rec["rejected"])
    img = cv2.imread(str(out))
    assert img.shape == cv2.imread(str(SAMPLES / "notebook_line.jpg")).shape


def test_bad_files_get_an_error_line_and_the_rest_go_on(tmp_path, capsys):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a picture")
    code = main(["photo", str(bad), str(SAMPLES / "blackboard.jpg"), "--json"])
    assert code == 1
    lines = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert "not a readable image" in lines[0]["error"]
    assert lines[1]["text"] == EXPECTED["blackboard.jpg"]["text"]


def test_debug_writes_stages_and_mosaic(tmp_path, capsys):
    assert main(["photo", str(SAMPLES / "sticky_note.jpg"), "--debug", str(tmp_path)]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"sticky_note.1_grey.png", "sticky_note.4_threshold.png", "sticky_note.crops.png"} <= names


def test_show_without_display_says_so_and_carries_on(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["photo", str(SAMPLES / "blackboard.jpg"), "--show"]) == 0
    captured = capsys.readouterr()
    assert "no display" in captured.err and EXPECTED["blackboard.jpg"]["text"] in captured.out


def test_missing_model_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["photo", str(SAMPLES / "blackboard.jpg"), "--model", str(tmp_path / "none.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "model file not found" in err


def test_installed_command_runs_as_a_process():
    exe = shutil.which("digitlens")
    assert exe, "the digitlens console script is not installed"
    out = subprocess.run([exe, "photo", str(SAMPLES / "small_digits.jpg")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(EXPECTED["small_digits.jpg"]["text"])
    usage = subprocess.run([exe, "photo"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "usage" in usage.stderr
    mod = subprocess.run([sys.executable, "-m", "digitlens", "--version"], capture_output=True, text=True, timeout=60)
    assert mod.returncode == 0 and "digitlens" in mod.stdout
