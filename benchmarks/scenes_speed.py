"""Frame and big-photo latency of this tree against an older checkout, side by side in one run.

    git worktree add /tmp/before 97da801        # the code before the scenes work (issue 12)
    python benchmarks/scenes_speed.py --before /tmp/before --data-dir ../shared/data/mnist

Both trees read the same images in child processes (one onnxruntime and one OpenCV
thread each), alternating, so the machine's load falls on both alike: the issue-12 640x480
frame with 12 digits (median and 95th percentile over --frames reads) and a 4000x3000
ruled-paper photo decoded from JPEG (median of --big reads).  Each tree is run with its
own defaults; this tree also with --rotate 0 (what `webcam` uses).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import cv2, numpy as np
cv2.setNumThreads(1)
from digitlens.inference import reader as _r
from digitlens.inference.reader import Reader
if hasattr(_r, "keep_freed_memory"):
    _r.keep_freed_memory()  # as the digitlens commands do (trees that have it)
kw = json.loads(sys.argv[5])
reader = Reader(threads=1, **kw)
frame = cv2.imread(sys.argv[2])
big = open(sys.argv[3], "rb").read()
n_frames, n_big = map(int, sys.argv[4].split(","))
reader.read(frame)
t = []
for _ in range(n_frames):
    t0 = time.perf_counter(); text = reader.read(frame).text; t.append(time.perf_counter() - t0)
b = []
for _ in range(n_big):
    t0 = time.perf_counter()
    img = cv2.imdecode(np.frombuffer(big, np.uint8), cv2.IMREAD_COLOR)
    big_text = reader.read(img).text
    b.append(time.perf_counter() - t0)
print(json.dumps({"frame_median": float(np.median(t)), "frame_p95": float(np.percentile(t, 95)),
                  "big_median": float(np.median(b)), "frame_text": text, "big_text": big_text}))
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", required=True, help="checkout of the older code (a git worktree)")
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: $DIGITLENS_DATA)")
    p.add_argument("--frames", type=int, default=60, help="frame reads per tree (default: %(default)s)")
    p.add_argument("--big", type=int, default=5, help="4000x3000 reads per tree (default: %(default)s)")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from digitlens.export.data import load_split
    from digitlens.synth import make_scene

    test = load_split("test", args.data_dir, download_missing=False)
    rng = np.random.default_rng(5)
    while True:  # the frame of BENCHMARKS.md section 2
        sc = make_scene(rng, test.images, test.labels, "paper", "lines", (640, 480))
        if len(sc.labels) >= 12:
            frame = sc.image
            break
    big = make_scene(np.random.default_rng(9), test.images, test.labels, "ruled", "lines", (4000, 3000))
    runs = [("before", args.before, {}), ("now", str(ROOT), {}), ("now, --rotate 0", str(ROOT), {"rotate": 0})]
    results: dict[str, list[dict]] = {name: [] for name, _, _ in runs}
    with tempfile.TemporaryDirectory() as tmp:
        fpath, bpath = Path(tmp) / "frame.png", Path(tmp) / "big.jpg"
        cv2.imwrite(str(fpath), frame)
        cv2.imwrite(str(bpath), big.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        for _ in range(2):  # alternate, so load changes hit every tree
            for name, tree, kw in runs:
                out = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        CHILD,
                        tree,
                        str(fpath),
                        str(bpath),
                        f"{args.frames // 2},{max(1, args.big // 2)}",
                        json.dumps(kw),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'code':18s} {'frame median ms':>16s} {'frame p95 ms':>13s} {'4000x3000 ms':>13s}  frame text / big text")
    base = None
    for name, _, _ in runs:
        r = results[name]
        fm = 1000 * float(np.mean([x["frame_median"] for x in r]))
        fp = 1000 * float(np.mean([x["frame_p95"] for x in r]))
        bm = 1000 * float(np.mean([x["big_median"] for x in r]))
        base = base or fm
        texts = f"{r[-1]['frame_text']!r} / {r[-1]['big_text']!r}"
        print(f"{name:18s} {fm:16.1f} {fp:13.1f} {bm:13.1f}  {texts}  ({fm / base:.2f}x)")
    print(f"truth: frame {sc.text!r}, big {big.text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
