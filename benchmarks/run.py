"""digitlens benchmarks: every figure side by side with its reference, in one run.

    python benchmarks/run.py --data-dir ../shared/data/mnist

Prints each table as it is measured and rewrites BENCHMARKS.md with all of them, the
machine description and this command.  Benchmarks measure; they never fail.  Needs the
[train] extra for the PyTorch column and the model table (skipped without torch).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digitlens.export import data as mnist  # noqa: E402
from digitlens.inference import Reader, Recognizer, default_model_path  # noqa: E402
from digitlens.synth import make_scene  # noqa: E402

ZOO = ROOT / "benchmarks" / "zoo"


def timed(fn, min_time: float = 0.4, min_reps: int = 3) -> float:
    """Median seconds per call over repeated calls lasting at least min_time."""
    fn()
    times, start = [], time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def table(title: str, header: list[str], rows: list[list], note: str = "") -> str:
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    if note:
        lines += ["", note]
    text = "\n".join(lines) + "\n"
    print("\n" + text, flush=True)
    return text


def machine() -> str:
    import onnxruntime as ort

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        tv = torch.__version__
    except ImportError:
        tv = "not installed"
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}, "
        f"OpenCV {cv2.__version__}, onnxruntime {ort.__version__}, torch {tv}"
    )


# ---- 1. classifier throughput -------------------------------------------------------------
def torch_model():
    try:
        import torch  # noqa: F401  (the [train] extra: no PyTorch comparison without it)

        from digitlens.export.models import build
        from digitlens.export.onnx_export import load_model
    except ImportError:
        return None
    ckpt = default_model_path().with_suffix(".pt")
    if ckpt.exists():
        return load_model("digitnet", ckpt)  # 10 or 11 outputs, as the checkpoint has
    return build("digitnet").eval()


def matmul_gflops(threads: int) -> float:
    """The best of torch.mm and onnxruntime's MatMul (MLAS), float32, 512 to 2048 square."""
    return max(_matmul_gflops(threads, n) for n in (512, 1024, 2048))


def _matmul_gflops(threads: int, n: int) -> float:
    best = 0.0
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    try:
        import torch

        torch.set_num_threads(threads)
        ta = torch.from_numpy(a)
        best = max(best, 2 * n**3 / timed(lambda: torch.mm(ta, ta), min_time=1.0) / 1e9)
    except ImportError:
        pass
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper

        x = helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])
        graph = helper.make_graph([helper.make_node("MatMul", ["a", "a"], ["y"])], "mm", [x], [y])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        best = max(best, 2 * n**3 / timed(lambda: sess.run(None, {"a": a}), min_time=1.0) / 1e9)
    except ImportError:
        pass
    return best


def classifier_throughput(crops: np.ndarray, macs: int) -> str:
    rows = []
    net = torch_model()
    dnn = None
    try:
        dnn = cv2.dnn.readNetFromONNX(str(default_model_path()))
    except cv2.error:
        dnn = None
    for threads in (1, 2):
        rec = Recognizer(threads=threads)
        peak = matmul_gflops(threads) or None
        cv2.setNumThreads(threads)
        for batch in (1, 32, 512):
            x = crops[:batch]
            ort_s = batch / timed(partial(rec.logits, x))
            row = [threads, batch, f"{ort_s:,.0f}"]
            if net is not None:
                import torch

                torch.set_num_threads(threads)
                xt = torch.from_numpy(x[:, None].copy())
                with torch.no_grad():
                    pt_s = batch / timed(partial(net, xt))
                row += [f"{pt_s:,.0f}", f"{ort_s / pt_s:.2f}x"]
            else:
                row += ["-", "-"]
            if dnn is not None:
                blob = x[:, None].copy()

                def run_dnn(dnn=dnn, blob=blob):
                    dnn.setInput(blob)
                    return dnn.forward()

                try:
                    row.append(f"{batch / timed(run_dnn):,.0f}")
                except cv2.error:
                    row.append("fails")
            else:
                row.append("does not load")
            if peak:
                row += [f"{peak:.1f}", f"{100 * ort_s * macs * 2 / 1e9 / peak:.1f}%"]
            else:
                row += ["-", "-"]
            rows.append(row)
    return table(
        "1. Classifier throughput (crops/s, default model)",
        [
            "threads",
            "batch",
            "onnxruntime",
            "PyTorch eager",
            "ort / torch",
            "cv2.dnn",
            "matmul GFLOP/s",
            "ort share of matmul",
        ],
        rows,
        f"Model: {macs:,} multiply-adds per crop. Share = 2 x MACs x crops/s / the GFLOP/s of the best large "
        "float32 matrix multiply (torch.mm or onnxruntime's MatMul, 512 to 2048 square) on the same threads, "
        "measured in the same run.",
    )


# ---- 2. frame latency ----------------------------------------------------------------------
def frame_with_12_digits(test, seed=5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    while True:
        sc = make_scene(rng, test.images, test.labels, "paper", "lines", (640, 480))
        if len(sc.labels) >= 12:
            return sc.image


def frame_latency(test, frames: int) -> str:
    img = frame_with_12_digits(test)
    _, enc = cv2.imencode(".jpg", img)
    reader = Reader(threads=1)
    cv2.setNumThreads(1)
    stages = ["decode", "convert", "illumination", "threshold", "segmentation", "normalisation", "inference"]
    per = {k: [] for k in [*stages, "total"]}
    n_digits = 0
    for _ in range(frames):
        t = {}
        t0 = time.perf_counter()
        frame = cv2.imdecode(enc, cv2.IMREAD_COLOR)
        t["decode"] = time.perf_counter() - t0
        reading = reader.read(frame, timings=t)
        total = time.perf_counter() - t0
        n_digits = len(reading.digits)
        for k in stages:
            per[k].append(t.get(k, 0.0) * 1000)
        per["total"].append(total * 1000)
    cv2.setNumThreads(-1)
    rows = [[k, f"{np.median(v):.2f}", f"{np.percentile(v, 95):.2f}"] for k, v in per.items()]
    return table(
        f"2. Frame latency, 640x480 frame, {n_digits} digits read, 1 thread, {frames} frames (ms)",
        ["stage", "median", "95th pct"],
        rows,
        "Target: total median <= 8 ms, 95th percentile <= 15 ms.",
    )


# ---- 3. folder throughput ------------------------------------------------------------------
def photo_folder(test, n: int, workdir: Path) -> Path:
    """workdir/photos with n generated 1280x960 JPEG photos (seed 3), the folder benchmarks' input."""
    folder = workdir / "photos"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(n):
        sc = make_scene(rng, test.images, test.labels, size=(1280, 960))
        cv2.imwrite(str(folder / f"{i:04d}.jpg"), sc.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return folder


def folder_throughput(test, n: int, workdir: Path) -> str:
    folder = photo_folder(test, n, workdir)
    rows = []
    decode_script = (
        "import sys, cv2, numpy as np, glob, multiprocessing as mp\n"
        "def f(p): return cv2.imdecode(np.fromfile(p, np.uint8), cv2.IMREAD_COLOR).shape\n"
        "if __name__ == '__main__':\n"
        "    cv2.setNumThreads(1)\n"
        "    files = sorted(glob.glob(sys.argv[1] + '/*.jpg'))\n"
        "    with mp.get_context('spawn').Pool(int(sys.argv[2]), initializer=cv2.setNumThreads, initargs=(1,)) as p:\n"
        "        list(p.imap_unordered(f, files, chunksize=4))\n"
    )
    script = workdir / "decode_only.py"
    script.write_text(decode_script)
    for workers in (1, 2):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(script), str(folder), str(workers)], check=True)
        floor = n / (time.perf_counter() - t0)
        out = workdir / f"res{workers}.jsonl"
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "digitlens", "batch", str(folder), "--out", str(out), "--workers", str(workers)],
            check=False,
            stderr=subprocess.DEVNULL,
        )
        rate = n / (time.perf_counter() - t0)
        rows.append([workers, f"{rate:.1f}", f"{floor:.1f}", f"{rate / floor:.2f}"])
    return table(
        f"3. Folder throughput, {n} generated 1280x960 JPEG photos (photos/s, whole processes)",
        ["workers", "digitlens batch", "decode only (cv2.imdecode)", "ratio"],
        rows,
        "Target: ratio >= 0.6. Both columns include process start-up.",
    )


# ---- 4. start-up ----------------------------------------------------------------------------
def startup(reps: int = 5) -> str:
    sample = ROOT / "samples" / "notebook_line.jpg"
    exe = [sys.executable, "-m", "digitlens", "photo", str(sample)]
    bare = [sys.executable, "-c", "import cv2, onnxruntime"]

    def wall(cmd):
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)

    a, b = wall(exe), wall(bare)
    return table(
        f"4. Start-up (wall time, median of {reps} processes)",
        ["command", "seconds"],
        [
            ["digitlens photo samples/notebook_line.jpg", f"{a:.3f}"],
            ['python -c "import cv2, onnxruntime"', f"{b:.3f}"],
            ["difference", f"{a - b:.3f}"],
        ],
        "Target: difference <= 0.3 s.",
    )


# ---- 5. large photo ---------------------------------------------------------------------------
def large_photo(test) -> str:
    rng = np.random.default_rng(9)
    sc = make_scene(rng, test.images, test.labels, "ruled", "lines", (4000, 3000))
    _, enc = cv2.imencode(".jpg", sc.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    reader = Reader()
    t = {}

    def run():
        t.clear()
        t0 = time.perf_counter()
        img = cv2.imdecode(enc, cv2.IMREAD_COLOR)
        t["decode"] = time.perf_counter() - t0
        return reader.read(img, timings=t)

    total = timed(run, min_time=2.0)
    reading = run()
    rows = [[k, f"{v * 1000:.1f}"] for k, v in t.items()] + [["total (median)", f"{total * 1000:.1f}"]]
    return table(
        f"5. A 4000x3000 photo end to end ({len(enc) // 1024} KB JPEG, truth '{sc.text}', read '{reading.text}')",
        ["stage", "ms"],
        rows,
        "The pipeline works on a copy shrunk to 1600 px on the long side (PreprocessConfig.max_side).",
    )


# ---- 6. models -------------------------------------------------------------------------------
def models_table(test, train, workdir: Path) -> str:
    from digitlens.export.evaluate import score

    x = test.images[:512].astype(np.float32) / 255
    entries = []
    for card_path in [*sorted(ZOO.glob("*.json")), default_model_path().with_suffix(".json")]:
        card = json.loads(card_path.read_text())
        onnx_path = card_path.with_name(card["file"])
        shipped = card_path.parent != ZOO
        entries.append((onnx_path.stem + (" (shipped)" if shipped else ""), onnx_path, card))
    q_path = default_model_path().with_name("digitnet-int8.onnx")  # made by `digitlens quantize`
    if q_path.exists():
        entries.append(("digitnet-int8 (shipped)", q_path, None))
    rows = []
    for name, path, card in entries:
        rec = Recognizer(path, threads=1)
        acc = card["test_accuracy_onnxruntime"] if card else score(rec, test.images, test.labels)["accuracy"]
        speed32 = 32 / timed(partial(rec.logits, x[:32]))
        speed512 = 512 / timed(partial(rec.logits, x))
        rows.append(
            [
                name,
                f"{card['parameters']:,}" if card else "(same)",
                f"{card['macs_per_crop']:,}" if card else "(same)",
                f"{path.stat().st_size / 1024:.0f} KB",
                f"{100 * acc:.2f}%",
                f"{speed32:,.0f}",
                f"{speed512:,.0f}",
                card.get("train_command", "").replace("digitlens train ", "train ")
                if card
                else "digitlens quantize (static QDQ, per-channel, 1000 calibration digits)",
            ]
        )
    return table(
        "6. Models (MNIST test accuracy through onnxruntime; crops/s on 1 thread)",
        ["model", "parameters", "MACs/crop", "ONNX size", "test accuracy", "batch 32", "batch 512", "trained with"],
        rows,
    )


# ---- 7. accuracy on generated photos ---------------------------------------------------------
def generated_accuracy(test, n: int = 300, seed: int = 2024) -> str:
    """The same set and seed as tests/preprocess/test_synthetic_set.py."""
    from collections import defaultdict

    from digitlens.metrics import Tally
    from digitlens.synth import generate

    reader = Reader()
    total, by = Tally(), defaultdict(Tally)
    for sc in generate(n, test.images, test.labels, seed=seed):
        rd = reader.read(sc.image)
        boxes = [d.box for d in rd.digits]
        for t in (total, by[sc.kind], by[sc.layout]):
            t.add(rd.text, boxes, sc.text, sc.boxes)
    rows = [
        [
            k,
            t.images,
            t.true_digits,
            f"{100 * t.recall:.1f}%",
            f"{100 * t.precision:.1f}%",
            f"{100 * t.cer:.1f}%",
            f"{100 * t.exact_rate:.1f}%",
        ]
        for k, t in [("all", total), *sorted(by.items())]
    ]
    return table(
        f"7. Reading generated photos ({n} images, seed {seed}, 640x480, shipped model, default settings)",
        ["subset", "images", "digits", "recall", "precision", "CER", "exact string"],
        rows,
        "Targets: recall and precision >= 99%, CER <= 2%.",
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: $DIGITLENS_DATA or the user cache)")
    p.add_argument("--frames", type=int, default=300, help="frames for the latency benchmark (default: 300)")
    p.add_argument("--photos", type=int, default=500, help="photos for the folder benchmark (default: 500)")
    p.add_argument(
        "--out", default=str(ROOT / "BENCHMARKS.md"), help="markdown file to rewrite (default: BENCHMARKS.md)"
    )
    args = p.parse_args(argv)

    test = mnist.load_split("test", args.data_dir)
    train = mnist.load_split("train", args.data_dir)
    crops = test.images[:512].astype(np.float32) / 255
    card = json.loads(default_model_path().with_suffix(".json").read_text())
    started = time.perf_counter()
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        parts.append(classifier_throughput(crops, card["macs_per_crop"]))
        parts.append(frame_latency(test, args.frames))
        parts.append(folder_throughput(test, args.photos, work))
        parts.append(startup())
        parts.append(large_photo(test))
        parts.append(models_table(test, train, work))
        parts.append(generated_accuracy(test))
    elapsed = time.perf_counter() - started
    cmd = "python benchmarks/run.py" + (f" --data-dir {args.data_dir}" if args.data_dir else "")
    head = (
        "# Benchmarks\n\n"
        "Written by `benchmarks/run.py`; every figure below was measured in one run of\n\n"
        f"```bash\n{cmd}\n```\n\n"
        f"Machine: {machine()}.  Run took {elapsed:.0f} s on {time.strftime('%Y-%m-%d')}.\n\n"
    )
    analysis = ROOT / "benchmarks" / "ANALYSIS.md"
    tail = "\n" + analysis.read_text() if analysis.exists() else ""
    Path(args.out).write_text(head + "\n".join(parts) + tail)
    print(f"wrote {args.out} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
