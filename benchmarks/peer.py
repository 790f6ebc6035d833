"""A peer in the benchmark: RapidOCR beside digitlens on the same images, in one run.

    python benchmarks/peer.py --data-dir ../shared/data/mnist [--frames 30] [--photos 40] [--real DIR]

RapidOCR (`pip install rapidocr-onnxruntime`: PP-OCR models on onnxruntime) is what a
user would otherwise reach for.  Three tables, every row measured in this run:

1. the 640x480 benchmark frame of `benchmarks/run.py` (about 12 digits), one thread each:
   median and 95th percentile latency beside the JPEG decode of the same frame;
2. a folder of generated 1280x960 JPEG photos, a pool of 2 processes each (start-up
   included): decode only, `digitlens batch --workers 2`, RapidOCR;
3. real photos (real-dev): CER and exact-string accuracy, RapidOCR's text kept to digits,
   one space between the text boxes it finds.

Skipped, with a line saying so, when rapidocr-onnxruntime is not installed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from real_eval import edits  # noqa: E402
from run import frame_with_12_digits, photo_folder, table  # noqa: E402

from digitlens.export import data as mnist  # noqa: E402
from digitlens.inference import Reader  # noqa: E402

_ocr = None


def rapidocr(threads: int = 1):
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)


def ocr_digits(engine, image: np.ndarray) -> str:
    """RapidOCR's reading kept to digits: one word per text box, boxes in its own order."""
    result, _ = engine(image)
    words = ("".join(ch for ch in text if ch.isdigit()) for _, text, _ in (result or []))
    return " ".join(w for w in words if w)


def _ocr_init() -> None:
    global _ocr
    cv2.setNumThreads(1)
    _ocr = rapidocr(1)


def _ocr_file(path: str) -> str:
    image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    return ocr_digits(_ocr, image)


def _decode_file(path: str) -> tuple[int, ...]:
    return cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR).shape


def _decode_init() -> None:
    cv2.setNumThreads(1)


def frame_table(test, frames: int) -> str:
    img = frame_with_12_digits(test)
    _, enc = cv2.imencode(".jpg", img)
    cv2.setNumThreads(1)
    reader, engine = Reader(threads=1), rapidocr(1)
    times: dict[str, list[float]] = {"decode": [], "digitlens": [], "rapidocr": []}
    texts = {}
    for i in range(frames):
        t0 = time.perf_counter()
        frame = cv2.imdecode(enc, cv2.IMREAD_COLOR)
        t1 = time.perf_counter()
        texts["digitlens"] = reader.read(frame).text
        t2 = time.perf_counter()
        times["decode"].append(t1 - t0)
        times["digitlens"].append(t2 - t0)
        if i < max(5, frames // 5):  # RapidOCR is slow; fewer repetitions are enough for its median
            t3 = time.perf_counter()
            texts["rapidocr"] = ocr_digits(engine, cv2.imdecode(enc, cv2.IMREAD_COLOR))
            times["rapidocr"].append(time.perf_counter() - t3)
    cv2.setNumThreads(-1)
    dec = float(np.median(times["decode"]))
    rows = [
        [
            k,
            f"{np.median(v) * 1000:.1f}",
            f"{np.percentile(v, 95) * 1000:.1f}",
            f"{np.median(v) / dec:.1f}x",
            texts.get(k, ""),
        ]
        for k, v in times.items()
    ]
    return table(
        f"Peer 1. The 640x480 benchmark frame, 1 thread, {frames} frames ({len(times['rapidocr'])} for RapidOCR)",
        ["reader", "median ms", "95th pct ms", "x decode", "text"],
        rows,
        "Both readers' times include the decode.",
    )


def folder_table(test, n: int, work: Path, workers: int = 2) -> str:
    folder = photo_folder(test, n, work)  # the same photos as run.py's folder benchmark
    files = sorted(str(p) for p in folder.glob("*.jpg"))
    rows = []
    ctx = mp.get_context("spawn")
    t0 = time.perf_counter()
    with ctx.Pool(workers, initializer=_decode_init) as pool:
        list(pool.imap_unordered(_decode_file, files, chunksize=4))
    decode = n / (time.perf_counter() - t0)
    rows.append(["decode only (cv2.imdecode)", f"{decode:.1f}", "1.00"])
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "digitlens", "batch", str(folder), "--out", str(work / "r.jsonl")]
    subprocess.run([*cmd, "--workers", str(workers)], check=False, stderr=subprocess.DEVNULL)
    rate = n / (time.perf_counter() - t0)
    rows.append([f"digitlens batch --workers {workers}", f"{rate:.1f}", f"{rate / decode:.2f}"])
    t0 = time.perf_counter()
    with ctx.Pool(workers, initializer=_ocr_init) as pool:
        list(pool.imap_unordered(_ocr_file, files, chunksize=2))
    rate = n / (time.perf_counter() - t0)
    rows.append([f"RapidOCR, {workers} processes", f"{rate:.1f}", f"{rate / decode:.2f}"])
    return table(
        f"Peer 2. A folder of {n} generated 1280x960 JPEG photos, {workers} processes (photos/s)",
        ["reader", "photos/s", "x decode-only"],
        rows,
        "Start-up of the processes included in every row.",
    )


def real_table(folder: Path) -> str:
    labels = json.loads((folder / "labels.json").read_text())
    from digitlens.preprocess.load import load_image

    reader, engine = Reader(threads=1), rapidocr(1)
    rows = []
    totals = {"digitlens": [0, 0, 0], "rapidocr": [0, 0, 0]}  # edits, characters, exact
    for name, truth in sorted(labels.items()):
        image = load_image(str(folder / name))  # EXIF applied, for both readers
        for who, text in (("digitlens", reader.read(image).text), ("rapidocr", ocr_digits(engine, image))):
            ref, hyp = truth.replace(" ", ""), text.replace(" ", "")
            totals[who][0] += edits(ref, hyp)[0]
            totals[who][1] += len(ref)
            totals[who][2] += ref == hyp
    for who, (e, c, x) in totals.items():
        rows.append([who, f"{100 * e / c:.1f} %", f"{100 * x / len(labels):.1f} %"])
    return table(
        f"Peer 3. Real photos ({folder.name}: {len(labels)} photos), spaces ignored",
        ["reader", "CER", "exact"],
        rows,
        "Spaces are ignored for both readers: RapidOCR's boxes are not digitlens's lines.",
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: $DIGITLENS_DATA or the user cache)")
    p.add_argument("--frames", type=int, default=30, help="frames for the latency table (default: 30)")
    p.add_argument("--photos", type=int, default=40, help="photos for the folder table (default: 40)")
    p.add_argument(
        "--real", default=str(ROOT.parent / "shared" / "data" / "real-dev"), help="labelled real photos, '' to skip"
    )
    args = p.parse_args(argv)
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        print("peer: rapidocr-onnxruntime is not installed (pip install rapidocr-onnxruntime); skipped")
        return 0
    test = mnist.load_split("test", args.data_dir)
    frame_table(test, args.frames)  # each table prints itself
    with tempfile.TemporaryDirectory() as tmp:
        folder_table(test, args.photos, Path(tmp))
    if args.real:
        real_table(Path(args.real))
    return 0


if __name__ == "__main__":
    sys.exit(main())
