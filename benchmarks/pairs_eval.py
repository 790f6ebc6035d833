"""Touching pairs: how many generated pairs of touching digits are read exactly, cut
straight against cut along the path of least ink (`seam_gain`), side by side in one run.

    python benchmarks/pairs_eval.py [--data-dir ../shared/data/mnist] [--count 150] [--seed 77]

Scene i is `synth.scenes.make_touching_pair_scene` drawn from MNIST *test* digits with the
generator seeded by (seed, i), once per overlap range (in digit heights: light, where the
strokes just touch or cross a little; heavy, where one stroke lies over the other), and
read with each `seam_gain` by the shipped model at default settings.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from digitlens.inference.reader import Reader
from digitlens.preprocess import PreprocessConfig
from digitlens.synth.scenes import DigitInk, make_touching_pair_scene

RANGES = {"light 0.02-0.15": (0.02, 0.15), "heavy 0.15-0.30": (0.15, 0.30)}
GAINS = {"straight (seam_gain=0)": 0.0, "seam (default)": PreprocessConfig().seam_gain}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $DIGITLENS_DATA or the user cache)")
    parser.add_argument("--count", type=int, default=150, help="scenes per overlap range (default: 150)")
    parser.add_argument("--seed", type=int, default=77, help="generator seed (default: 77)")
    args = parser.parse_args(argv)

    from digitlens.export.data import DataError, load_split

    try:
        test = load_split("test", args.data_dir)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ink = DigitInk(test.images)
    readers = {name: Reader(config=PreprocessConfig().with_(seam_gain=g)) for name, g in GAINS.items()}
    print(f"{'overlap':<18}" + "".join(f"{name:>26}" for name in readers))
    for label, overlap in RANGES.items():
        exact = dict.fromkeys(readers, 0)
        for i in range(args.count):
            sc = make_touching_pair_scene(np.random.default_rng([args.seed, i]), test.images, test.labels, ink, overlap)
            for name, reader in readers.items():
                exact[name] += reader.read(sc.image).text == sc.text
        print(f"{label:<18}" + "".join(f"{f'{exact[n]} / {args.count} exact':>26}" for n in readers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
