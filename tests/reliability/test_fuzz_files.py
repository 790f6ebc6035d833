"""Seeded fuzzing of whole files: truncated and bit-flipped images of every supported format.

Each case goes through `photo`, `batch` and the API (Reader.read on bytes and on a path)
in subprocesses with a time bound, so a hang fails the test instead of stalling CI.  Every
case must end in a reading or one clean error line: no traceback, no missing row.
DIGITLENS_FUZZ_FILES=N (default 6) sets the variants per format.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from digitlens.preprocess.load import header_size

VARIANTS = int(os.environ.get("DIGITLENS_FUZZ_FILES", "6"))
CV2_FORMATS = [".png", ".jpg", ".bmp", ".tiff", ".webp", ".pgm", ".ppm", ".pbm", ".pam", ".jp2", ".hdr", ".sr"]
CV2_FORMATS += [".pfm", ".avif", ".gif"]
ROOT = Path(__file__).resolve().parents[2]


def page() -> np.ndarray:
    img = np.full((48, 64, 3), 220, np.uint8)
    cv2.putText(img, "42", (5, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (20, 20, 20), 3)
    return img


def encoded_samples() -> dict[str, bytes]:
    """One small valid file per format digitlens reads (HEIC when pillow-heif is installed)."""
    img = page()
    out = {}
    for ext in CV2_FORMATS:
        src = img[:, :, 0] if ext in (".pgm", ".pbm") else img
        src = src.astype(np.float32) / 255 if ext in (".hdr", ".pfm") else src
        ok, buf = cv2.imencode(ext, src)
        if ok:
            out[ext] = buf.tobytes()
    try:
        import pillow_heif
        from PIL import Image

        pillow_heif.register_heif_opener()
        buf = io.BytesIO()
        Image.fromarray(img[:, :, ::-1]).save(buf, format="HEIF", quality=90)
        out[".heic"] = buf.getvalue()
    except ImportError:
        pass
    out[".jfif"] = out[".jpg"]
    return out


def mutants(data: bytes, rng: np.random.Generator, n: int) -> list[bytes]:
    """Truncations (anywhere, and inside the header) and bit flips (anywhere, and in the header)."""
    found = []
    for k in range(n):
        b = bytearray(data)
        kind = k % 4
        if kind == 0:
            b = b[: int(rng.integers(0, len(b)))]
        elif kind == 1:
            b = b[: int(rng.integers(0, min(len(b), 64)))]
        else:
            span = len(b) if kind == 2 else min(len(b), 48)
            for _ in range(int(rng.integers(1, 9))):
                i = int(rng.integers(0, span))
                b[i] ^= 1 << int(rng.integers(0, 8))
        found.append(bytes(b))
    return found


@pytest.fixture(scope="module")
def fuzz_folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(20261202)
    for ext, data in encoded_samples().items():
        (d / f"ok{ext}").write_bytes(data)
        for i, m in enumerate(mutants(data, rng, VARIANTS)):
            (d / f"m{i:02d}{ext}").write_bytes(m)
    return d


def run(args, timeout=120, **kw):
    return subprocess.run(
        [sys.executable, "-m", "digitlens", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, **kw
    )


def no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "internal error" not in stderr, stderr[-3000:]


def test_every_format_sample_is_valid_and_its_header_is_parsed():
    for ext, data in encoded_samples().items():
        if ext != ".gif":  # OpenCV's GIF writer pads the logical screen
            assert header_size(data) in ((64, 48), (64, 64)), ext  # HEIC tiles are padded to 64


def test_photo_on_fuzzed_files(fuzz_folder):
    files = sorted(str(p) for p in fuzz_folder.iterdir())
    out = run(["photo", "--json", *files])
    no_traceback(out.stderr)
    assert out.returncode in (0, 1), out.stderr[-2000:]
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["file"] for r in rows] == files  # one row per input, in order
    for r in rows:
        assert (r["error"] is None) or (r["text"] == "" and "\n" not in r["error"])
    for line in out.stderr.splitlines():
        assert line.startswith("digitlens photo: "), line  # one clean line per bad file
    assert all(r["error"] is None for r in rows if Path(r["file"]).name.startswith("ok"))


def test_batch_on_fuzzed_files(fuzz_folder, tmp_path):
    res = tmp_path / "r.jsonl"
    out = run(["batch", str(fuzz_folder), "--out", str(res), "--workers", "2"])
    no_traceback(out.stderr)
    assert out.returncode in (0, 1), out.stderr[-2000:]
    rows = [json.loads(line) for line in res.read_text().splitlines()]
    assert sorted(r["file"] for r in rows) == sorted(str(p) for p in fuzz_folder.iterdir())


API_SCRIPT = """
import sys, json
from pathlib import Path
from digitlens import Reader
reader = Reader()
for name in sys.argv[1:]:
    for kind, what in (("path", name), ("bytes", Path(name).read_bytes())):
        try:
            reading = reader.read(what)
            print(json.dumps({"file": name, "kind": kind, "text": reading.text}), flush=True)
        except ValueError as exc:  # the documented error (ImageLoadError is a ValueError)
            msg = str(exc)
            assert msg and "\\n" not in msg, repr(msg)
            print(json.dumps({"file": name, "kind": kind, "error": msg}), flush=True)
"""


def test_api_on_fuzzed_files(fuzz_folder):
    files = sorted(str(p) for p in fuzz_folder.iterdir())
    out = subprocess.run(
        [sys.executable, "-c", API_SCRIPT, *files], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    no_traceback(out.stderr)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == 2 * len(files)
    for a, b in zip(rows[::2], rows[1::2], strict=True):  # a path and its bytes give the same outcome
        assert a.get("text") == b.get("text") and ("error" in a) == ("error" in b), (a, b)
