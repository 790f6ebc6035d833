"""Issue 13, hardening the commands: nothing overwritten, nothing hung, nothing silently skipped.

Every test builds its inputs in code and fails on the code before the fix.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from digitlens.cli import main
from digitlens.commands import batch
from digitlens.preprocess.load import (
    ImageLoadError,
    decode_image,
    header_size,
    pixel_limit,
    set_pixel_limit,
)

ROOT = Path(__file__).resolve().parents[2]
Image = pytest.importorskip("PIL.Image")


# ---- inputs made in code -------------------------------------------------------------------
def plain_page(text: str = "42", size=(160, 100)) -> np.ndarray:
    w, h = size
    img = np.full((h, w, 3), 225, np.uint8)
    cv2.putText(img, text, (10, h - 25), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (30, 30, 30), 5)
    return img


def mnist_page(mnist_test, idx=(0, 1, 2)) -> np.ndarray:
    from tests.conftest import paper_with_digits

    img, _ = paper_with_digits([mnist_test.images[i] for i in idx], size=(320, 200), height=60, origin=(20, 60))
    return img


def write_png(path: Path, img: np.ndarray | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cv2.imencode(".png", plain_page() if img is None else img)[1].tobytes())
    return path


def finish(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """communicate() that kills the process when it overruns: a hang fails the test and leaves nothing behind."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            kids = _children(proc.pid)
        except OSError:
            kids = []
        for pid in [proc.pid, *kids]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        proc.communicate()
        pytest.fail(f"still running after {timeout}s: hung")


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def dl(*args, timeout=180, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "digitlens", *args], capture_output=True, timeout=timeout, cwd=ROOT, **kw
    )


@pytest.fixture()
def limit_reset():
    yield
    set_pixel_limit(None)


# ==== data loss and hangs ====================================================================
def test_photo_refuses_to_save_over_its_input(tmp_path, capsys, monkeypatch):
    photo = write_png(tmp_path / "X.png")
    before = photo.read_bytes()
    assert main(["photo", str(photo), "--save", str(photo)]) == 2
    assert "one of the inputs" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # the same file spelt differently
    assert main(["photo", "X.png", "--save", str(photo)]) == 2
    assert main(["photo", str(photo), "--save", "./X.png"]) == 2
    assert photo.read_bytes() == before


def test_photo_save_folder_never_replaces_an_input(tmp_path, capsys):
    a = write_png(tmp_path / "a.png")
    clash = write_png(tmp_path / "a.annotated.png")  # the name a.png's annotated copy would take
    before = clash.read_bytes()
    assert main(["photo", str(a), str(clash), "--save", str(tmp_path)]) == 2
    assert "one of the inputs" in capsys.readouterr().err and clash.read_bytes() == before


def test_batch_refuses_an_annotated_folder_that_holds_the_inputs(tmp_path, capsys):
    src = tmp_path / "in"
    write_png(src / "a.png")
    out = tmp_path / "r.jsonl"
    assert main(["batch", str(src), "--out", str(out), "--save-annotated", str(src)]) == 2
    assert "holds the inputs" in capsys.readouterr().err
    for target in (src, src / "sub"):  # read recursively, a sub-folder would be read next time
        assert main(["batch", str(src), "--recursive", "--out", str(out), "--save-annotated", str(target)]) == 2
        assert "inside the folder being read" in capsys.readouterr().err
    assert sorted(p.name for p in src.rglob("*")) == ["a.png"] and not out.exists()


def _fake_init(args, save_dir):  # module level: spawned workers import it
    pass


def _fake_work(task):
    path = task[0]
    if "poison" in path:
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
    time.sleep(0.02)
    return {"file": path, "text": "1", "digits": [], "rejected": [], "error": None}


def test_dead_worker_is_replaced_its_images_retried_and_a_killer_gets_an_error_row():
    import faulthandler

    tasks = [(f"img{i:02d}", None) for i in range(10)]
    tasks.insert(3, ("poison.png", None))
    faulthandler.dump_traceback_later(240, exit=True)  # a hang fails the run, it does not stall it
    try:
        rows = list(batch.run_pool(tasks, 2, None, None, work=_fake_work, init=_fake_init))
    finally:
        faulthandler.cancel_dump_traceback_later()
    by = {r["file"]: r for r in rows}
    assert len(rows) == len(by) == 11  # every input once
    assert by["poison.png"]["error"] == batch.WORKER_DIED and by["poison.png"]["text"] == ""
    assert all(r["error"] is None for f, r in by.items() if f != "poison.png")


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_batch_survives_a_worker_killed_from_outside(tmp_path):
    src = tmp_path / "in"
    for i in range(14):
        write_png(src / f"{i:02d}.png", plain_page(str(i)))
    out = tmp_path / "r.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "digitlens", "batch", str(src), "--out", str(out), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 120
    victim = None
    while time.time() < deadline and proc.poll() is None and victim is None:
        if out.exists() and out.read_text().count("\n") >= 2:
            for kid in _children(proc.pid):
                if b"spawn_main" in Path(f"/proc/{kid}/cmdline").read_bytes():
                    victim = kid
                    break
        time.sleep(0.01)
    assert victim, "no worker found"
    os.kill(victim, signal.SIGKILL)
    _, err = finish(proc, 180)  # before the fix: hung here forever
    assert proc.returncode == 0, err
    files = [r["file"] for r in rows_of(out)]
    assert sorted(files) == sorted(str(p) for p in src.iterdir()) and len(set(files)) == 14


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems refuse names that are not UTF-8")
def test_file_name_that_is_not_utf8_is_one_row(tmp_path, capsys):
    src = tmp_path / "in"
    write_png(src / "good.png")
    bad = os.path.join(os.fsencode(src), b"caf\xe9.png")
    with open(bad, "wb") as f:
        f.write(cv2.imencode(".png", plain_page())[1].tobytes())
    for suffix in (".jsonl", ".csv"):
        out = tmp_path / f"r{suffix}"
        assert main(["batch", str(src), "--out", str(out), "--workers", "1"]) == 0
        with out.open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f)) if suffix == ".csv" else [json.loads(line) for line in f]
        assert sorted(Path(r["file"]).name for r in rows) == ["caf\\xe9.png", "good.png"]
        assert main(["batch", str(src), "--out", str(out), "--workers", "1", "--resume"]) == 0
        assert "2 already done" in capsys.readouterr().err
    assert main(["photo", os.fsdecode(bad)]) == 0
    assert "caf\\xe9.png\t" in capsys.readouterr().out


def huge_pgm(w=100_000, h=100_000) -> bytes:
    return f"P5\n# made by a test\n{w} {h}\n255\n".encode() + bytes(64)


@pytest.mark.parametrize("limit", [None, "20000000000"])  # ours, then OpenCV's own beyond a raised limit
def test_huge_pgm_header_is_an_error_row_not_a_traceback(tmp_path, capsys, limit, limit_reset):
    src = tmp_path / "in"
    (src / "huge.pgm").parent.mkdir()
    (src / "huge.pgm").write_bytes(huge_pgm())
    write_png(src / "ok.png")
    extra = ["--max-pixels", limit] if limit else []
    assert main(["photo", str(src / "huge.pgm"), str(src / "ok.png"), *extra]) == 1
    cap = capsys.readouterr()
    assert "too large" in cap.err and "Traceback" not in cap.err and "ok.png\t" in cap.out
    out = tmp_path / "r.jsonl"
    assert main(["batch", str(src), "--out", str(out), "--workers", "1", *extra]) == 1
    by = {Path(r["file"]).name: r for r in rows_of(out)}
    assert "too large" in by["huge.pgm"]["error"] and by["ok.png"]["error"] is None


def _tiff(end: str, big: bool, w: int, h: int) -> bytes:
    e = "<" if end == "II" else ">"
    if big:
        head = end.encode() + struct.pack(e + "HHHQ", 43, 8, 0, 16)
        ifd = struct.pack(e + "Q", 2)
        ifd += struct.pack(e + "HHQQ", 256, 4, 1, w) + struct.pack(e + "HHQQ", 257, 4, 1, h)
        return head + ifd + struct.pack(e + "Q", 0)
    head = end.encode() + struct.pack(e + "HI", 42, 8)
    ifd = struct.pack(e + "H", 2) + struct.pack(e + "HHII", 256, 4, 1, w) + struct.pack(e + "HHII", 257, 3, 1, h)
    if e == ">":  # a SHORT value sits in the first two bytes of its field
        ifd = ifd[:-4] + struct.pack(">HH", h, 0)
    return head + ifd + struct.pack(e + "I", 0)


BOMBS = {
    "tiff-le": lambda w, h: _tiff("II", False, w, h),
    "tiff-be": lambda w, h: _tiff("MM", False, w, h),
    "bigtiff": lambda w, h: _tiff("II", True, w, h),
    "ppm": lambda w, h: f"P6\n{w} {h}\n255\n".encode() + bytes(32),
    "pgm-comment": lambda w, h: f"P5 #c\n{w}\n#c\n{h} 255\n".encode() + bytes(32),
    "pbm": lambda w, h: f"P4\n{w} {h}\n".encode() + bytes(32),
    "pam": lambda w, h: f"P7\nWIDTH {w}\nHEIGHT {h}\nDEPTH 3\nMAXVAL 255\nENDHDR\n".encode() + bytes(32),
    "pfm": lambda w, h: f"PF\n{w} {h}\n-1.0\n".encode() + bytes(32),
    "sun": lambda w, h: b"\x59\xa6\x6a\x95" + struct.pack(">IIII", w, h, 24, 0) + bytes(32),
    "hdr": lambda w, h: f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {h} +X {w}\n".encode() + bytes(32),
    "j2k": lambda w, h: b"\xff\x4f\xff\x51\x00\x29\x00\x00" + struct.pack(">IIII", w, h, 0, 0) + bytes(32),
    "jp2": lambda w, h: b"\0\0\0\x0cjP  \r\n\x87\n" + b"\0\0\0\x2djp2h\0\0\0\x16ihdr" + struct.pack(">II", h, w),
    "avif": lambda w, h: b"\0\0\0\x18ftypavif\0\0\0\0mif1avif" + b"\0\0\0\x14ispe\0\0\0\0" + struct.pack(">II", w, h),
}


@pytest.mark.parametrize("fmt", sorted(BOMBS))
def test_bombs_of_every_format_are_refused_from_the_header(fmt):
    data = BOMBS[fmt](30000, 30000)
    assert header_size(data) == (30000, 30000)
    with pytest.raises(ImageLoadError, match="too large"):
        decode_image(data, f"bomb.{fmt}")


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".tiff", ".webp", ".pgm", ".ppm", ".pam", ".jp2", ".sr"])
def test_header_sizes_of_real_files(ext):
    img = np.zeros((37, 53), np.uint8) if ext == ".pgm" else np.zeros((37, 53, 3), np.uint8)
    assert header_size(cv2.imencode(ext, img)[1].tobytes()) == (53, 37)


def test_one_pixel_limit_for_cli_workers_api_and_environment(tmp_path, capsys, monkeypatch, limit_reset):
    from digitlens import Reader

    src = tmp_path / "in"
    for name in ("a.png", "b.png"):
        write_png(src / name)  # 160x100 = 16000 pixels
    assert main(["photo", str(src / "a.png"), "--max-pixels", "15000"]) == 1
    assert "exceeds the limit of 15000" in capsys.readouterr().err
    out = tmp_path / "r.jsonl"
    assert main(["batch", str(src), "--out", str(out), "--workers", "2", "--max-pixels", "15000"]) == 1
    assert all("too large" in r["error"] for r in rows_of(out))  # the limit reached the worker processes
    reader = Reader()
    set_pixel_limit(15000)
    for image in (src / "a.png", plain_page(), (src / "a.png").read_bytes()):
        with pytest.raises(ValueError, match="too large"):
            reader.read(image)
    set_pixel_limit(None)
    monkeypatch.setenv("DIGITLENS_MAX_PIXELS", "15000")
    assert pixel_limit() == 15000
    with pytest.raises(ValueError, match="too large"):
        reader.read(plain_page())
    monkeypatch.delenv("DIGITLENS_MAX_PIXELS")
    reader.read(plain_page())  # the default (100 MP) lets it through


# ==== wrong or surprising results ==============================================================
def _pil_bytes(im, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


EXIF_FORMATS = ["PNG", "WEBP", "TIFF", "JPEG", "AVIF", "HEIF"]


@pytest.mark.parametrize("fmt", EXIF_FORMATS)
def test_exif_orientation_applied_for_every_format(fmt):
    from PIL import ImageOps, features

    if fmt == "HEIF":
        pillow_heif = pytest.importorskip("pillow_heif")
        pillow_heif.register_heif_opener()
    if fmt == "AVIF" and not features.check("avif"):
        pytest.skip("this Pillow cannot write AVIF")
    arr = np.zeros((40, 80, 3), np.uint8)
    arr[:10, :20] = 255  # a marked corner
    arr[30:, 70:, 1] = 200
    for orientation in range(1, 9):
        im = Image.fromarray(arr)
        exif = im.getexif()
        exif[0x0112] = orientation
        kw = {"lossless": True} if fmt == "WEBP" else ({"quality": 95} if fmt in ("JPEG", "AVIF", "HEIF") else {})
        data = _pil_bytes(im, fmt, exif=exif.tobytes(), **kw)
        want = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))[:, :, ::-1]
        got = decode_image(data, fmt)
        assert got.shape[:2] == want.shape[:2], (fmt, orientation)
        assert np.abs(got[:, :, :3].astype(int) - want).mean() < 20, (fmt, orientation)


def test_inputs_with_the_same_stem_get_distinct_annotated_files(tmp_path):
    paths = [write_png(tmp_path / "a" / "1.png"), write_png(tmp_path / "b" / "1.png")]
    paths.append(tmp_path / "a" / "1.jpg")
    paths[-1].write_bytes(cv2.imencode(".jpg", plain_page())[1].tobytes())
    lst = tmp_path / "list.txt"
    lst.write_text("\n".join(str(p) for p in paths) + "\n")
    ann = tmp_path / "ann"
    assert main(["batch", str(lst), "--out", str(tmp_path / "r.jsonl"), "--save-annotated", str(ann)]) == 0
    assert len(list(ann.iterdir())) == 3
    saved = tmp_path / "saved"
    assert main(["photo", *map(str, paths), "--save", str(saved)]) == 0
    assert len(list(saved.iterdir())) == 3


def test_resume_compares_resolved_paths_and_retries_error_rows(tmp_path, monkeypatch, capsys):
    src = tmp_path / "src"
    write_png(src / "good.png")
    (src / "bad.png").write_bytes(b"not yet an image")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "r.jsonl"
    assert main(["batch", "src", "--out", str(out), "--workers", "1"]) == 1
    write_png(src / "bad.png")  # the user mends the file
    assert main(["batch", str(src.resolve()), "--out", str(out), "--workers", "1", "--resume"]) == 0
    assert "1 images read (1 already done)" in capsys.readouterr().err
    rows = rows_of(out)
    assert sorted(Path(r["file"]).name for r in rows) == ["bad.png", "good.png"]  # each once
    assert all(r["error"] is None for r in rows)


def test_double_star_glob_without_recursive_says_so(tmp_path, capsys):
    write_png(tmp_path / "src" / "x" / "y" / "deep.png")
    out = tmp_path / "r.jsonl"
    assert main(["batch", str(tmp_path / "src" / "**" / "*.png"), "--out", str(out), "--workers", "1"]) == 0
    assert "--recursive" in capsys.readouterr().err
    assert [Path(r["file"]).name for r in rows_of(out)] == ["deep.png"]


def test_source_matching_nothing_exits_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    for source in (str(tmp_path / "empty"), str(tmp_path / "empty" / "*.png")):
        assert main(["batch", source, "--out", str(tmp_path / "r.jsonl")]) == 2
        assert "no images found" in capsys.readouterr().err


def test_unusable_save_annotated_is_refused_before_the_first_image(tmp_path, capsys):
    write_png(tmp_path / "in" / "a.png")
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    out = tmp_path / "r.jsonl"
    assert main(["batch", str(tmp_path / "in"), "--out", str(out), "--save-annotated", str(blocker / "ann")]) == 2
    assert "cannot write there" in capsys.readouterr().err
    assert not out.exists()  # refused before any image was read


def test_an_error_row_has_no_text(tmp_path, mnist_test):
    img = write_png(tmp_path / "page.png", mnist_page(mnist_test))
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    p = argparse.ArgumentParser()
    batch.add_arguments(p)
    batch._init_worker_inline(p.parse_args([str(img), "--out", "x.jsonl"]), str(blocker))
    row = batch.process_one(str(img), "page.annotated.png")  # the image reads, its copy cannot be written
    assert row["error"] and row["text"] == "" and row["digits"] == [] and row["rejected"] == []


def test_float_images_holding_0_to_255_read_like_uint8(reader, mnist_test):
    page = mnist_page(mnist_test)
    want = reader.read(page).text
    assert want
    for image in (page.astype(np.float32), page.astype(np.float64), page.astype(np.float32) / 255):
        assert reader.read(image).text == want
    with pytest.raises(ValueError, match=r"expected 0\.\.1 or 0\.\.255"):
        reader.read(page.astype(np.float32) * 300)


def test_heic_avif_and_jfif_are_read(tmp_path, reader, mnist_test):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    page = mnist_page(mnist_test)
    want = reader.read(page).text
    src = tmp_path / "in"
    src.mkdir()
    (src / "iphone.heic").write_bytes(_pil_bytes(Image.fromarray(page), "HEIF", quality=95))
    (src / "web.avif").write_bytes(cv2.imencode(".avif", page)[1].tobytes())
    (src / "old.jfif").write_bytes(cv2.imencode(".jpg", page)[1].tobytes())
    out = tmp_path / "r.jsonl"
    assert main(["batch", str(src), "--out", str(out), "--workers", "1"]) == 0
    rows = rows_of(out)
    assert sorted(Path(r["file"]).name for r in rows) == ["iphone.heic", "old.jfif", "web.avif"]
    assert all(r["text"] == want for r in rows)


def test_heic_without_the_extra_is_an_error_row_naming_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if not installed
    src = tmp_path / "in"
    src.mkdir()
    (src / "IMG_0001.HEIC").write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(64))
    out = tmp_path / "r.jsonl"
    assert main(["batch", str(src), "--out", str(out), "--workers", "1"]) == 1
    (row,) = rows_of(out)
    assert "digitlens[heic]" in row["error"]


def test_out_format_follows_the_suffix(tmp_path, capsys):
    src = tmp_path / "in"
    write_png(src / "a.png")
    write_png(src / "b.png")
    out = tmp_path / "r.json"
    assert main(["batch", str(src), "--out", str(out), "--workers", "1"]) == 0
    assert [Path(r["file"]).name for r in json.loads(out.read_text())] == ["a.png", "b.png"]
    # a run killed mid-way leaves the array open and a torn row; --resume mends it
    rows = json.loads(out.read_text())
    out.write_text("[\n" + json.dumps(rows[0]) + ',\n{"file": "' + rows[1]["file"][:5])
    assert main(["batch", str(src), "--out", str(out), "--workers", "1", "--resume"]) == 0
    assert sorted(Path(r["file"]).name for r in json.loads(out.read_text())) == ["a.png", "b.png"]
    assert main(["batch", str(src), "--out", str(tmp_path / "r.txt")]) == 2
    assert "must end in .jsonl, .json or .csv" in capsys.readouterr().err


def test_byte_order_mark_in_a_list_file(tmp_path):
    a, b = write_png(tmp_path / "a.png"), write_png(tmp_path / "b.png")
    lst = tmp_path / "list.txt"
    lst.write_bytes(("\ufeff" + "a.png\r\nb.png\r\n").encode("utf-8"))  # Windows Notepad's UTF-8
    out = tmp_path / "r.jsonl"
    assert main(["batch", str(lst), "--out", str(out), "--workers", "1"]) == 0
    assert [r["file"] for r in rows_of(out)] == [str(a), str(b)]


def test_workers_are_capped_with_a_message(tmp_path, capsys):
    write_png(tmp_path / "in" / "a.png")
    write_png(tmp_path / "in" / "b.png")
    assert main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "r.jsonl"), "--workers", "1000"]) == 0
    err = capsys.readouterr().err
    assert "--workers 1000 is more than twice" in err and f"using {batch.max_workers()}" in err


# ==== smaller things a user notices ================================================================
def test_missing_camera_is_one_line():
    out = dl("webcam", "--source", "7", "--no-show", timeout=120)
    assert out.returncode == 2
    assert len(out.stderr.decode().strip().splitlines()) == 1, out.stderr.decode()


def _pngs(folder: Path, n: int) -> Path:
    for i in range(n):
        write_png(folder / f"{i:03d}.png", plain_page(str(i % 10)))
    return folder


def _worker_importing(pid: int) -> bool:
    """A worker has loaded numpy but is still importing (onnxruntime comes later): mid-start-up."""
    for kid in _children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{kid}/cmdline").read_bytes():
                maps = Path(f"/proc/{kid}/maps").read_bytes()
                if b"_multiarray_umath" in maps and b"onnxruntime" not in maps:
                    return True
        except OSError:
            pass
    return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_early_ctrl_c_leaves_no_worker_traceback(tmp_path):
    src = _pngs(tmp_path / "in", 6)
    proc = subprocess.Popen(
        [sys.executable, "-m", "digitlens", "batch", str(src), "--out", str(tmp_path / "r.jsonl"), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as at a terminal, even under nohup
    )
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None and not _worker_importing(proc.pid):
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
    _, err = finish(proc, 120)
    assert proc.returncode in (130, 0), err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


def test_broken_pipe_is_quiet(tmp_path):
    src = _pngs(tmp_path / "in", 8)
    for args in (["photo", *sorted(map(str, src.iterdir()))], ["batch", str(src), "--out", "-", "--workers", "1"]):
        proc = subprocess.Popen(
            [sys.executable, "-m", "digitlens", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
        )
        assert proc.stdout.readline()  # `| head -1`
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.wait(timeout=120)
        assert proc.returncode == 141, err
        assert "Traceback" not in err and "Broken pipe" not in err, err


def test_sigterm_gives_the_summary(tmp_path):
    src = _pngs(tmp_path / "in", 30)
    out = tmp_path / "r.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "digitlens", "batch", str(src), "--out", str(out), "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 2:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = finish(proc, 60)
    assert proc.returncode == 143, err
    assert "images read" in err and "Traceback" not in err
    assert 2 <= len(rows_of(out)) < 30  # whole lines only


def _video(path: Path, scenes: list[tuple[np.ndarray, int]]) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 200))
    for frame, count in scenes:
        for _ in range(count):
            bgr = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame
            w.write(cv2.resize(bgr, (320, 200)))
    w.release()
    return path


def test_webcam_without_a_window_prints_readings(tmp_path, capsys, mnist_test):
    blank = np.full((200, 320), 225, np.uint8)
    video = _video(tmp_path / "v.mp4", [(mnist_page(mnist_test), 4), (blank, 4)])
    assert main(["webcam", "--source", str(video), "--no-show"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 2 and lines[0].startswith("0\t") and lines[0].split("\t")[1]  # digits, then a change
    assert main(["webcam", "--source", str(video), "--no-show", "--jsonl", "-"]) == 0
    frames = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [f["frame"] for f in frames] == list(range(8))
    assert not (tmp_path / "-").exists() and not (ROOT / "-").exists()


def test_sigterm_in_webcam_closes_the_log_and_exits_143(tmp_path):
    video = _video(tmp_path / "v.mp4", [(plain_page(), 400)])
    log = tmp_path / "f.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "digitlens", "webcam", "--source", str(video), "--no-show", "--jsonl", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and log.read_text().count("\n") >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = finish(proc, 60)
    assert proc.returncode == 143, err
    assert "frames read" in err and "Traceback" not in err
    assert len([json.loads(line) for line in log.read_text().splitlines()]) >= 3  # whole lines


def test_webcam_option_errors_are_clear(tmp_path, capsys):
    video = _video(tmp_path / "v.mp4", [(np.full((200, 320), 225, np.uint8), 3)])
    saved = tmp_path / "new" / "folder" / "out.mp4"
    assert main(["webcam", "--source", str(video), "--no-show", "--save", str(saved)]) == 0
    assert saved.exists()
    capsys.readouterr()
    assert main(["webcam", "--source", str(video), "--no-show", "--roi", "400,0,10,10"]) == 2
    err = capsys.readouterr().err
    assert "does not fit in the 320x200 frame" in err and "Traceback" not in err
    assert main(["webcam", "--source", str(video), "--no-show", "--max-frames", "-1"]) == 2
    assert "--max-frames must be 0" in capsys.readouterr().err


def test_photo_reads_stdin(tmp_path):
    data = cv2.imencode(".png", plain_page())[1].tobytes()
    out = dl("photo", "-", input=data)
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode().startswith("-\t")
    out = dl("photo", "-", "--json", input=b"garbage")
    assert out.returncode == 1 and "<stdin>" in json.loads(out.stdout)["error"]


NO_TORCH = "import sys; sys.modules['torch'] = None; from digitlens.cli import main; sys.exit(main(sys.argv[1:]))"


def test_train_help_works_without_torch():
    help_ = subprocess.run([sys.executable, "-c", NO_TORCH, "train", "--help"], capture_output=True, text=True)
    assert help_.returncode == 0 and "usage: digitlens train" in help_.stdout
    assert "pip install 'digitlens[train]'" in help_.stdout
    run = subprocess.run([sys.executable, "-c", NO_TORCH, "train"], capture_output=True, text=True)
    assert run.returncode == 2 and "pip install 'digitlens[train]'" in run.stderr
    assert "Traceback" not in run.stderr


def test_polarity_is_named_by_what_the_user_sees(tmp_path, capsys):
    from digitlens.commands.common import add_reader_arguments, config_from_args

    p = argparse.ArgumentParser()
    add_reader_arguments(p)
    helptext = p.format_help()
    assert "--ink {auto,dark,light}" in helptext and "--invert" not in helptext
    want = {(): None, ("--ink", "dark"): True, ("--ink", "light"): False, ("--ink", "auto"): None}
    want |= {("--invert",): True, ("--no-invert",): False}  # the old spellings still work
    for argv, invert in want.items():
        assert config_from_args(p.parse_args(list(argv))).invert is invert, argv


def test_csv_has_boxes_and_quotes_formula_cells(tmp_path, mnist_test):
    src = tmp_path / "in"
    for name in ("=HYPERLINK(1).png", "-2.png", "+3.png", "@4.png", "plain.png"):
        write_png(src / name, mnist_page(mnist_test))
    out, js = tmp_path / "r.csv", tmp_path / "r.jsonl"
    assert main(["batch", str(src), "--out", str(out), "--workers", "1"]) == 0
    assert main(["batch", str(src), "--out", str(js), "--workers", "1"]) == 0
    table = list(csv.DictReader(out.open(encoding="utf-8")))
    assert set(table[0]) == {"file", "text", "digits", "confidences", "boxes", "error"}
    boxes = {Path(r["file"]).name: " ".join(",".join(map(str, d["box"])) for d in r["digits"]) for r in rows_of(js)}
    for r in table:
        name = Path(r["file"].lstrip("'")).name
        assert r["boxes"] == boxes[name] and r["boxes"]
        assert r["file"][0] not in "=+-@"  # a spreadsheet sees text, not a formula
    assert main(["batch", str(src), "--out", str(out), "--workers", "1", "--resume"]) == 0
    assert len(list(csv.DictReader(out.open(encoding="utf-8")))) == 5  # quoted names are recognised


def test_reader_read_accepts_path_bytes_array_pil_and_refuses_the_rest(tmp_path, reader, mnist_test):
    page = mnist_page(mnist_test)
    path = write_png(tmp_path / "p.png", page)
    want = reader.read(page).text
    assert want
    for image in (path, str(path), path.read_bytes(), Image.fromarray(page)):
        assert reader.read(image).text == want
    for bad in (None, 42, [[0, 1]]):
        with pytest.raises(ValueError, match="must be a path, the bytes of an image file, a numpy array or a PIL"):
            reader.read(bad)
        with pytest.raises(TypeError):
            reader.read(bad)


def test_progress_is_tqdm_on_a_terminal_and_quiet_elsewhere():
    from tqdm import tqdm

    from digitlens.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    pipe = io.StringIO()
    bar = Progress(3, desc="batch", stream=pipe, final_line=False)
    for _ in range(3):
        bar.update(1)
    bar.close()
    assert pipe.getvalue() == ""
    term = Terminal()
    bar = Progress(3, desc="batch", stream=term, final_line=False)
    assert isinstance(bar.bar, tqdm)
    for _ in range(3):
        bar.update(1)
    bar.close()
    assert "batch" in term.getvalue() and "3/3" in term.getvalue()
