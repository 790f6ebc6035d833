"""Which helps photo crops more: normalising them towards MNIST, or training on distorted MNIST?

Issue 3 asks to measure both sides.  The normalisation side is switched in the
pipeline (grey-level crops, stroke-width matching); the training side is the model:
the shipped digitnet (augmented, then fine-tuned on small blurred digits), the same
network before that fine-tuning, and the same network trained without augmentation
(benchmarks/zoo/digitnet-noaug.onnx, command in its card).  Every cell reads the
same generated development photos (seeds 3 and 7, never the test seed 2024).

    python benchmarks/ablation.py --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from read_eval import score  # noqa: E402

from digitlens.inference.reader import Reader  # noqa: E402
from digitlens.metrics import Tally  # noqa: E402
from digitlens.preprocess import PreprocessConfig  # noqa: E402
from digitlens.synth import generate  # noqa: E402

MODELS = {
    "shipped (augmented + small-digit fine-tune)": None,
    "augmented, no fine-tune": HERE / "zoo" / "digitnet-aug.onnx",
    "no augmentation": HERE / "zoo" / "digitnet-noaug.onnx",
}
PIPELINES = {
    "grey crops, stroke corrected beyond 2.5x (default)": {},
    "binary crops, stroke corrected beyond 2.5x": {"grey_crops": False},
    "grey crops, stroke corrected beyond 1.5x": {"stroke_tolerance": 1.5},
    "grey crops, stroke never corrected": {"stroke_tolerance": 1000.0},
    "binary crops, stroke corrected beyond 1.5x (first session)": {"grey_crops": False, "stroke_tolerance": 1.5},
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: $DIGITLENS_DATA or the user cache)")
    p.add_argument("--n", type=int, default=300, help="photos per seed (default: 300)")
    p.add_argument("--seeds", type=int, nargs="+", default=[3, 7], help="generator seeds (default: 3 7)")
    args = p.parse_args(argv)

    from digitlens.export.data import DataError, load_split

    try:
        test = load_split("test", args.data_dir)
    except (DataError, OSError) as exc:
        print(f"ablation: {exc}", file=sys.stderr)
        return 2
    scenes = [sc for seed in args.seeds for sc in generate(args.n, test.images, test.labels, seed=seed)]
    print(f"{len(scenes)} generated photos, seeds {args.seeds}: CER (recall / precision)\n")
    print("| pipeline \\ model | " + " | ".join(MODELS) + " |")
    print("|---" * (len(MODELS) + 1) + "|")
    for pname, changes in PIPELINES.items():
        cells = []
        for model in MODELS.values():
            if model is not None and not model.exists():
                cells.append("(model missing)")
                continue
            t: Tally = score(Reader(model, PreprocessConfig().with_(**changes)), scenes)
            cells.append(f"{100 * t.cer:.2f}% ({100 * t.recall:.1f} / {100 * t.precision:.1f})")
        print(f"| {pname} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
